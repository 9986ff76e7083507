"""`flask sandbox`: migrate, seed, start localstripe, the SMTP catcher, gunicorn and one
outbox relay; stop them all on Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from dashboard import PROJECT_ROOT
from dashboard.models import Role
from dashboard.sandbox import discovery, mail_catcher

SANDBOX_SECRET_KEY = "sk_test_sandbox_localstripe"  # noqa: S105 - localstripe takes any sk_
SANDBOX_PUBLISHABLE_KEY = "pk_test_sandbox_localstripe"
SANDBOX_SENDER = "Merchant dashboard <dashboard@sandbox.example>"
WEBHOOK_ID = "dashboard"


class SandboxError(RuntimeError):
    """The sandbox cannot start; the message says what to do."""


@dataclass
class SandboxSettings:
    """Kept in the instance folder so demo passwords and secrets survive restarts."""

    webhook_secret: str
    passwords: dict[str, str]

    @classmethod
    def load_or_create(cls, instance: Path) -> SandboxSettings:
        path = instance / "sandbox.json"
        if path.exists():
            saved = json.loads(path.read_text())
            return cls(saved["webhook_secret"], saved["passwords"])
        settings = cls(
            webhook_secret="whsec_" + secrets.token_hex(24),
            passwords={role.value: secrets.token_urlsafe(12) for role in Role},
        )
        instance.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(
                {"webhook_secret": settings.webhook_secret, "passwords": settings.passwords}, handle
            )
        return settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ensure_port_free(port: int) -> None:
    with socket.socket() as probe:
        # As gunicorn does: connections of a just-stopped server (TIME_WAIT) do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise SandboxError(
                f"Port {port} on 127.0.0.1 is in use. Stop what uses it, or pick another: "
                f"make run PORT={port + 1}"
            ) from error


def wait_until(
    check: Callable[[], bool], what: str, process: subprocess.Popen[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SandboxError(f"{what} exited with code {process.returncode} while starting.")
        if check():
            return
        time.sleep(0.1)
    raise SandboxError(f"{what} did not start within {timeout:.0f} s.")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback only
            return bool(response.status < 500)
    except (urllib.error.URLError, OSError):
        return False


def start_localstripe(instance: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start it without waiting: the caller must own the process before it can be stopped."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "dashboard.sandbox.localstripe_server",
            "--port",
            str(port),
            "--store",
            str(instance / "localstripe.pickle"),
        ],
        process_group=0,  # see Sandbox
    )
    return process, f"http://127.0.0.1:{port}"


def register_webhook(localstripe_base: str, url: str, secret: str) -> None:
    """Tell localstripe where to send signed events (it forgets on restart)."""
    body = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback only
        f"{localstripe_base}/_config/webhooks/{WEBHOOK_ID}",
        data=body,
        headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        if response.status >= 300:
            raise SandboxError(f"localstripe refused the webhook registration ({response.status}).")


@dataclass
class Sandbox:
    """The processes the sandbox started, stopped together whatever happens.

    Each runs in a process group of its own, so a terminal's Ctrl-C reaches only us and we
    stop them with SIGTERM (a gunicorn 27 gthread worker hit by SIGINT while it is starting a
    thread deadlocks), and killing a group that will not stop takes its workers with it.
    """

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def serve(
    *,
    instance: Path,
    port: int,
    settings: SandboxSettings,
    echo: Callable[[str], None],
    with_localstripe: Callable[[str], None] = lambda base: None,
) -> int:
    """Start localstripe, the SMTP catcher, gunicorn and a relay; wait for Ctrl-C or for a
    process to die; stop them all.

    `with_localstripe(base_url)` runs once localstripe answers, before gunicorn starts.
    """
    ensure_port_free(port)
    sandbox = Sandbox()

    def on_terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_terminate)
    previous_hup = signal.signal(signal.SIGHUP, on_terminate)  # its terminal was closed
    # Ctrl-C stops it however it was started: a shell without job control starts a
    # background command with SIGINT ignored, which Python would otherwise keep.
    previous_ctrl_c = signal.signal(signal.SIGINT, signal.default_int_handler)
    localstripe_base = ""
    catcher = None
    try:
        localstripe, localstripe_base = start_localstripe(instance)
        sandbox.processes.append(localstripe)
        ready = localstripe_base + "/js.stripe.com/v3/"
        wait_until(lambda: answers(ready), "localstripe", localstripe, 30)
        public_url = f"http://127.0.0.1:{port}"
        register_webhook(localstripe_base, public_url + "/webhooks/stripe", settings.webhook_secret)
        with_localstripe(localstripe_base)
        mail_port = free_port()
        catcher = mail_catcher.start(instance, mail_port)
        # `flask` commands in this checkout (`flask --app wsgi stripe sync`) use it while we run.
        discovery.announce(
            instance,
            api_base=localstripe_base,
            secret_key=SANDBOX_SECRET_KEY,
            publishable_key=SANDBOX_PUBLISHABLE_KEY,
            webhook_secret=settings.webhook_secret,
            public_base_url=public_url,
        )
        env = {
            **os.environ,
            "STRIPE_API_BASE": localstripe_base,
            "STRIPE_SECRET_KEY": SANDBOX_SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": SANDBOX_PUBLISHABLE_KEY,
            "STRIPE_WEBHOOK_SECRET": settings.webhook_secret,
            "PUBLIC_BASE_URL": public_url,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            # Every email goes to the catcher, whatever the developer's shell says.
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(mail_port),
            "MAIL_USE_TLS": "0",
            "MAIL_USE_SSL": "0",
            "MAIL_USERNAME": "",
            "MAIL_PASSWORD": "",
            "MAIL_DEFAULT_SENDER": SANDBOX_SENDER,
        }
        web = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "gunicorn", "--config", str(PROJECT_ROOT / "gunicorn.conf.py")],
            cwd=PROJECT_ROOT,
            env=env,
            process_group=0,  # see Sandbox
        )
        sandbox.processes.append(web)
        wait_until(lambda: answers(public_url + "/healthz"), "gunicorn", web, 60)
        relay = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "relay", "--interval", "1"],
            cwd=PROJECT_ROOT,
            env=env,
            process_group=0,  # see Sandbox
        )
        sandbox.processes.append(relay)
        echo(f"Dashboard: {public_url}/  (localstripe at {localstripe_base})")
        echo(
            f"Emails it sends: {public_url}/sandbox/mail  (SMTP catcher at 127.0.0.1:"
            f"{mail_port}; one outbox relay delivers them)"
        )
        echo("Press Ctrl-C to stop.")
        while all(process.poll() is None for process in sandbox.processes):
            time.sleep(0.5)
        stopped = next(process for process in sandbox.processes if process.poll() is not None)
        echo(f"A sandbox process exited (code {stopped.returncode}); stopping the rest.")
        return 1
    except KeyboardInterrupt:
        echo("Stopping the sandbox.")
        return 0
    finally:
        # A second Ctrl-C while stopping must not leave a server behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            if localstripe_base:
                discovery.withdraw(instance, localstripe_base)
            sandbox.stop()
            if catcher is not None:
                catcher.stop()
        finally:
            signal.signal(signal.SIGINT, previous_ctrl_c)
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGHUP, previous_hup)
