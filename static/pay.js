// Our payment page: Stripe.js's Payment Element confirms the PaymentIntent (3-D Secure
// included) and sends the buyer back to the return page, which asks Stripe what happened.
(() => {
  const form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.publishableKey);
  const elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
  // Apple Pay and Google Pay show where the device offers them (the domain registered
  // with `flask stripe register-domain`).
  elements.create("payment", { wallets: { applePay: "auto", googlePay: "auto" } }).mount("#payment-element");
  const errorBox = document.getElementById("payment-error");
  const sentences = JSON.parse(form.dataset.declineSentences || "{}");
  const button = document.getElementById("pay-button");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    errorBox.textContent = "";
    const { error } = await stripe.confirmPayment({
      elements,
      confirmParams: { return_url: form.dataset.returnUrl },
    });
    // Reached only when confirmation failed before any redirect (declines included). The
    // Element's own words about a field are for buyers; a decline or a failed verification
    // is said with the dashboard's sentence for Stripe's code, never the API's message.
    const code = error.decline_code || error.code;
    if (error.type === "validation_error") errorBox.textContent = error.message;
    else if (Object.hasOwn(sentences, code)) errorBox.textContent = sentences[code];
    else if (error.type === "card_error") errorBox.textContent = form.dataset.genericDecline;
    else errorBox.textContent = "The payment could not be completed. Try again in a moment.";
    button.disabled = false;
  });
})();
