"""Two-step sign-in: after the password, a code from an authenticator app (TOTP) or a
one-use recovery code.

`codes` makes and reads the codes (pyotp, segno for the QR code), `encryption` seals the
TOTP secret with a key derived from SECRET_KEY, `credentials` is a user's authenticator
and recovery codes (set up, check, turn off, reset), `pending` the sign-ins waiting for
their second step, and `requirement` the admin's setting that staff and admins must use it.
Every code typed to sign in is checked under the password's throttle (services/sign_in.py).
"""
