"""How `flask` commands in the same checkout find a running sandbox.

While `flask sandbox` (`make run`) runs, it keeps what a command needs to reach it in the
instance folder: localstripe's address, the sandbox's test keys and webhook secret, and the
dashboard's address. The configuration uses that file only when no Stripe setting is given
in the environment, only while the localstripe it names answers on this machine, and only
with a test key: a stale file, a file pointing elsewhere or one naming a live key is
ignored. The sandbox removes the file when it stops.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FILE_NAME = "sandbox-stripe.json"
FIELDS = ("api_base", "secret_key", "publishable_key", "webhook_secret", "public_base_url")
# What localstripe serves on its own, without a key: its stand-in for Stripe.js.
PROBE_PATH = "/js.stripe.com/v3/"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def announce(instance: Path, **values: str) -> Path:
    """Write the file (mode 0600: it holds the webhook secret) in one step."""
    assert set(values) == set(FIELDS), values
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / FILE_NAME
    partial = path.with_suffix(".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    partial.replace(path)
    return path


def withdraw(instance: Path, api_base: str) -> None:
    """Remove the file, if it is still this sandbox's (another may have started since)."""
    path = instance / FILE_NAME
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("api_base") == api_base:
            path.unlink()


def _answers(api_base: str) -> bool:
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with direct.open(api_base + PROBE_PATH, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def running_sandbox(instance: Path) -> dict[str, str] | None:
    """The running sandbox's settings, or None (no file, not one of ours, or not running)."""
    try:
        saved: Any = json.loads((instance / FILE_NAME).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or not all(isinstance(saved.get(f), str) for f in FIELDS):
        return None
    base = urlsplit(saved["api_base"])
    if base.scheme != "http" or base.hostname not in LOOPBACK:
        return None
    if not saved["secret_key"].startswith("sk_test_"):
        return None
    if not _answers(saved["api_base"]):
        return None
    return {field: saved[field] for field in FIELDS}
