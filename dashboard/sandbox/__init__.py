"""The offline sandbox: localstripe in place of Stripe, demo data, one command to run it all.

Nothing here is imported by the app itself; it is used by `flask sandbox` and by the tests.
"""
