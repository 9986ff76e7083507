"""Money for an order, by job: `ledger` (every request saved with its idempotency key, made
durable, then sent), `apply` (Stripe's answers moved into the order), `staff` (capture,
void, refund), `settle` (unanswered requests and re-reads), `checkout` (the buyer's
payment), with `results` for what each answers."""
