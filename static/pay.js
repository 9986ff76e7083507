// Our payment page: Stripe.js's Payment Element confirms the PaymentIntent (3-D Secure
// included) and sends the buyer back to the return page, which asks Stripe what happened.
(() => {
  const form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.publishableKey);
  const elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
  elements.create("payment").mount("#payment-element");
  const errorBox = document.getElementById("payment-error");
  const button = document.getElementById("pay-button");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    errorBox.textContent = "";
    const { error } = await stripe.confirmPayment({
      elements,
      confirmParams: { return_url: form.dataset.returnUrl },
    });
    // Reached only when confirmation failed before any redirect (declines included).
    errorBox.textContent = error.message || "The payment could not be completed.";
    button.disabled = false;
  });
})();
