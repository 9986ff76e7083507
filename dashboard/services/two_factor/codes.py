"""The codes themselves: TOTP (RFC 6238 through pyotp: 6 digits, 30-second steps, SHA-1,
as every authenticator app expects), the QR code of its otpauth:// URI (segno, as inline
SVG: no image leaves the page), and recovery codes. Nothing here touches the database."""

from __future__ import annotations

import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import pyotp
import segno

ISSUER = "Merchant dashboard"
DIGITS = 6
STEP_SECONDS = 30
# A code of the step before or after the server's is accepted: a phone's clock a little off,
# or a code typed as it changed.
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: nothing that reads as another character on paper.
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_LENGTH = 10  # 31^10, about 2^50 possible codes
RECOVERY_EXAMPLE = "7km3p-x9qrt"
_SEPARATORS = re.compile("[\\s\\-\u2010-\u2015]")  # spaces, and the dashes a phone may type


class Kind(StrEnum):
    TOTP = "totp"
    RECOVERY = "recovery"


@dataclass(frozen=True)
class TypedCode:
    """What a person typed, recognised: a TOTP code (6 digits) or a recovery code."""

    kind: Kind
    value: str


def read_code(text: str) -> TypedCode | None:
    """Six digits, or a recovery code (with or without its dash, in any case); None for
    anything else. Full-width digits and letters count as the plain ones (NFKC)."""
    plain = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).lower()
    if len(plain) == DIGITS and plain.isascii() and plain.isdigit():
        return TypedCode(Kind.TOTP, plain)
    if len(plain) == RECOVERY_LENGTH and all(char in RECOVERY_ALPHABET for char in plain):
        return TypedCode(Kind.RECOVERY, plain)
    return None


def new_secret() -> str:
    """A new TOTP secret: 32 base32 characters (160 bits, RFC 4226's recommendation)."""
    return pyotp.random_base32(length=32)


def step_at(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, moment: datetime) -> int | None:
    """The latest time step within the drift allowed whose code this is, or None."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    now = step_at(moment)
    matches = [
        step
        for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1)
        if hmac.compare_digest(totp.generate_otp(step), code)
    ]
    return max(matches) if matches else None


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app reads: the dashboard as issuer, the email as
    the account."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    return totp.provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The URI as a QR code in SVG markup, to be placed in the page itself. Sized by CSS
    (no width or height), with a title for screen readers; no style attribute (the CSP)."""
    svg: str = segno.make(uri, error="m").svg_inline(
        scale=1, border=4, omitsize=True, svgclass="qr", lineclass=None, title=f"QR code: {ISSUER}"
    )
    return svg.replace("<svg ", '<svg role="img" ', 1)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def new_recovery_codes() -> list[str]:
    """RECOVERY_CODE_COUNT new codes, shown as `xxxxx-xxxxx`."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        plain = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append(f"{plain[:5]}-{plain[5:]}")
    return codes


def plain_recovery_code(shown: str) -> str:
    """The code as it is hashed and checked: without its dash."""
    return shown.replace("-", "")
