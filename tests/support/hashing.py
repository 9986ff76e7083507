"""Password hashing, watched rather than timed: which hash verifications ran, and whether
each derived its key, seen through `sys.setprofile` (nothing is replaced or patched)."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import werkzeug.security

_CHECK = werkzeug.security.check_password_hash.__code__
_DERIVATIONS = (hashlib.scrypt, hashlib.pbkdf2_hmac)


@contextmanager
def password_checks() -> Iterator[list[tuple[str, int]]]:
    """Every call of werkzeug's `check_password_hash` in this thread while the block runs,
    as (the method of the hash it checked, how many key derivations it ran): one
    verification of a default hash is `[("scrypt:32768:8:1", 1)]`."""
    seen: list[tuple[str, int]] = []
    inside: list[list[Any]] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is _CHECK:
            inside.append([str(frame.f_locals["pwhash"]).split("$", 1)[0], 0])
        elif event == "return" and frame.f_code is _CHECK and inside:
            method, derived = inside.pop()
            seen.append((method, derived))
        elif event == "c_call" and inside and any(arg is kdf for kdf in _DERIVATIONS):
            inside[-1][1] += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(previous)
