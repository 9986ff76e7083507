"""The offline sandbox: localstripe in place of Stripe, demo data, one command to run it all.

Used by `flask sandbox` and by the tests; the app itself reads only `discovery` (how a
`flask` command finds a sandbox running beside it).
"""
