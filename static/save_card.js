// The "save a card" page: Stripe.js's Payment Element (cards, and Apple Pay or Google Pay
// where the device offers them) confirms the SetupIntent, then Stripe sends the buyer to
// the return page, which asks Stripe what was saved.
(() => {
  const form = document.getElementById("setup-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.publishableKey);
  const elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
  elements.create("payment", { wallets: { applePay: "auto", googlePay: "auto" } }).mount("#payment-element");
  const errorBox = document.getElementById("payment-error");
  const button = document.getElementById("save-card-button");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    errorBox.textContent = "";
    const { error } = await stripe.confirmSetup({
      elements,
      confirmParams: { return_url: form.dataset.returnUrl },
    });
    if (error.type === "validation_error") errorBox.textContent = error.message;
    else errorBox.textContent = "The card could not be saved. Check it, or try another card.";
    button.disabled = false;
  });
})();
