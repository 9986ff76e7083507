"""Everything that talks to Stripe. Nothing outside this package imports `stripe`."""
