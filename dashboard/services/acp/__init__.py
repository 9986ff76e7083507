"""The merchant side of the Agentic Commerce Protocol's checkout API: requests checked
(`gate`), Idempotency-Keys kept (`idempotency`), carts priced from the catalog (`carts`),
sessions as the schema draws them (`render`), the session operations (`sessions`), the
payment with a shared payment token (`completion`), and the one entry point (`api`)."""
