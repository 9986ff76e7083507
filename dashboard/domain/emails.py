"""Email addresses as identities: the one normalisation every stored or compared address
goes through (accounts, sign-in and its throttle, the command line, buyers on orders)."""

from __future__ import annotations

import unicodedata

# What the users and orders columns hold, and what email addresses may have (RFC 5321).
MAX_EMAIL_LENGTH = 254


def normalize_email(address: str) -> str:
    """One spelling per address: NFKC, lower case, no surrounding whitespace.

    NFKC makes compatibility forms the letters they look like: full-width X (U+FF38) is X,
    the Kelvin sign (U+212A) is K, the ligature fi (U+FB01) is fi. Lower case rather than
    casefold: casefold turns `ß` into `ss`, which a mail server treats as another mailbox.
    NFKC runs again after lower-casing, so that normalising twice changes nothing.
    """
    folded = unicodedata.normalize("NFKC", address).lower()
    return unicodedata.normalize("NFKC", folded).strip()
