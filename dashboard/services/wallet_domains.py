"""Registering the shop's domain with Stripe's Payment Method Domains API, so Apple Pay and
Google Pay show on our payment pages there (Apple also reads the association file that
`/.well-known/apple-developer-merchantid-domain-association` serves)."""

from __future__ import annotations

import re

from dashboard.payments.gateway import gateway

# A host name as Stripe takes it: labels of letters, digits and hyphens, dots between,
# no scheme, port, path or trailing dot.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})+")


class BadDomain(ValueError):
    """Not a domain name Stripe could register; the message says what is wrong."""


def check_domain(text: str) -> str:
    domain = text.strip().lower()
    if "://" in domain or "/" in domain or ":" in domain:
        raise BadDomain(
            f"Give the domain alone, without https:// or a path or port (e.g. shop.example), "
            f"not {text!r}."
        )
    if len(domain) > 253 or not _DOMAIN.fullmatch(domain):
        raise BadDomain(f"{text!r} is not a domain name such as shop.example.")
    return domain


def register(text: str) -> dict[str, str]:
    """Register the domain with Stripe; each wallet's status as Stripe says it.
    BadDomain before anything is sent; PaymentError if Stripe refused."""
    return gateway().register_payment_method_domain(check_domain(text))
