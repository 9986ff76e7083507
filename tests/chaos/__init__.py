"""The chaos suite: seeded Stripe histories delivered to a real gunicorn under injected faults.

`histories` generates the orders, their events and the truth each ends in; `stripe_api`
serves Stripe's final objects to the sweep; `chaos_app` is the WSGI entry that injects
faults on request; `deliverer` sends the events as Stripe would; `tests/test_chaos.py`
runs it all and checks the invariants. See docs/reliability.md.
"""
