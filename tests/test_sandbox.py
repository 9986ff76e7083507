"""The sandbox end to end: real localstripe, flask and gunicorn processes on 127.0.0.1.

Nothing of ours is mocked. Every command is started in a session of its own: whatever it
starts stays in that session (gunicorn workers included, whatever process group they are in),
so the tests can tell whether anything outlived the command, and teardown can kill all of it
whatever the test did. Process facts come from /proc (Linux).
"""

from __future__ import annotations

import http.cookiejar
import ipaddress
import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dashboard import PROJECT_ROOT
from dashboard.sandbox.demo import DEMO_DOMAIN, DEMO_ORDERS, DEMO_PRODUCTS
from tests.support.app import free_port

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="reads process facts from /proc (Linux)"
)

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
COMMAND_TIMEOUT = 60.0
DEMO_BUYERS = [email for _, email, _, _ in DEMO_ORDERS]
LOGIN_LINE = re.compile(
    r"^\s+(admin|staff|support)\s+(\S+@" + re.escape(DEMO_DOMAIN) + r")\s+(\S+)\s*$"
)
CSRF_INPUT = re.compile(r"<input\b[^>]*\bname=\"csrf_token\"[^>]*>")
VALUE_ATTRIBUTE = re.compile(r"\bvalue=\"([^\"]+)\"")
# Settings a developer's shell may carry that would point the subprocesses elsewhere.
FOREIGN_SETTINGS = ("STRIPE_", "FLASK_", "GUNICORN_")
FOREIGN_NAMES = {
    "DATABASE_URL",
    "INSTANCE_PATH",
    "SECRET_KEY",
    "PUBLIC_BASE_URL",
    "WEB_CONCURRENCY",
    "FORWARDED_ALLOW_IPS",
}


# --- ports and addresses -------------------------------------------------------------------


def accepts_connections(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(2)
        try:
            client.connect((host, port))
        except OSError:
            return False
        return True


def non_loopback_addresses() -> list[str]:
    """This machine's own IPv4 and IPv6 addresses other than loopback and link-local."""
    found: set[str] = set()
    with suppress(OSError):
        previous = ""
        for line in Path("/proc/net/fib_trie").read_text().splitlines():
            if "/32 host LOCAL" in line and previous.strip().startswith("|--"):
                found.add(previous.strip()[3:].strip())
            previous = line
    with suppress(OSError):
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            raw = line.split()[0]
            found.add(str(ipaddress.IPv6Address(bytes.fromhex(raw))))
    addresses = []
    for text in sorted(found):
        address = ipaddress.ip_address(text)
        if not (address.is_loopback or address.is_link_local or address.is_unspecified):
            addresses.append(text)
    return addresses


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets in LISTEN state on this port, from /proc/net."""
    found = set()
    for name, width in (("tcp", 8), ("tcp6", 32)):
        with suppress(OSError):
            for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
                fields = line.split()
                local, state = fields[1], fields[3]
                address_hex, port_hex = local.split(":")
                if state != "0A" or int(port_hex, 16) != port or len(address_hex) != width:
                    continue
                # The kernel prints each 32-bit word in host (little-endian) order.
                words = [bytes.fromhex(address_hex[i : i + 8])[::-1] for i in range(0, width, 8)]
                found.add(str(ipaddress.ip_address(b"".join(words))))
    return found


def assert_listens_on_loopback_only(port: int) -> None:
    assert accepts_connections("127.0.0.1", port)
    assert listening_addresses(port) == {"127.0.0.1"}
    for address in [*non_loopback_addresses(), "::1"]:
        assert not accepts_connections(address, port), f"port {port} answers on {address}"


# --- processes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    sid: int
    started: str  # clock ticks after boot: tells a pid apart from a later one reusing it
    cmdline: str


def _stat_fields(pid: int) -> list[str] | None:
    """The /proc/PID/stat fields after the command name (which may hold spaces)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def live_processes() -> list[ProcessInfo]:
    """Every process that has not exited (zombies have exited: they only await reaping)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None or fields[0] in ("Z", "X", "x"):
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        pid, ppid, sid = int(entry.name), int(fields[1]), int(fields[3])
        found.append(ProcessInfo(pid, ppid, sid, fields[19], cmdline))
    return found


def descendants(pid: int) -> list[ProcessInfo]:
    processes = live_processes()
    family: list[ProcessInfo] = []
    parents = {pid}
    while True:
        children = [p for p in processes if p.ppid in parents and p not in family]
        if not children:
            return family
        family.extend(children)
        parents = {p.pid for p in children}


def is_running(process: ProcessInfo) -> bool:
    fields = _stat_fields(process.pid)
    return fields is not None and fields[0] not in ("Z", "X", "x") and fields[19] == process.started


def session_members(sid: int) -> list[ProcessInfo]:
    return [p for p in live_processes() if p.sid == sid]


@dataclass
class Running:
    """A subprocess in its own session, its merged stdout and stderr read line by line."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    finished_reading: bool = False

    def __post_init__(self) -> None:
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.finished_reading = True
            self.changed.notify_all()

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        with self.changed:
            return "\n".join(self.lines)

    def wait_for_line(self, matches: Callable[[str], bool], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        seen = 0
        with self.changed:
            while True:
                for line in self.lines[seen:]:
                    if matches(line):
                        return line
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                if self.finished_reading or remaining <= 0:
                    break
                self.changed.wait(remaining)
        self.process.poll()
        pytest.fail(
            f"no such line within {timeout:.0f} s (exit code {self.process.returncode}); "
            f"output:\n{self.output()}"
        )

    def wait(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running after {timeout:.0f} s; output:\n{self.output()}")
        self.reader.join(timeout=5)
        return code

    def kill_everything(self) -> None:
        """SIGKILL every process left in the session, reap the leader, close the pipe."""
        for _ in range(50):  # a process may fork while we kill
            left = [p for p in session_members(self.process.pid) if is_running(p)]
            if not left:
                break
            for process in left:
                with suppress(ProcessLookupError, PermissionError):
                    os.kill(process.pid, signal.SIGKILL)
            time.sleep(0.02)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self.reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


Spawn = Callable[..., Running]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    started: list[Running] = []

    def start(args: list[str], env: dict[str, str], *, ctrl_c_ignored: bool = False) -> Running:
        # A shell without job control starts a background command with Ctrl-C ignored.
        ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ctrl_c_ignored else None
        process = subprocess.Popen(
            args,
            preexec_fn=ignore,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,
        )
        running = Running(process)
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill_everything()


@pytest.fixture
def sandbox_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for `flask --app wsgi ...`: instance folder and database under tmp_path."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in FOREIGN_NAMES and not name.startswith(FOREIGN_SETTINGS)
    }
    # gunicorn's control socket defaults to ~/.gunicorn/gunicorn.ctl, shared with any other
    # gunicorn of this user; a short private directory (unix socket paths are limited).
    with tempfile.TemporaryDirectory(prefix="gctl") as runtime_dir:
        env.update(
            INSTANCE_PATH=str(tmp_path / "instance"),
            DATABASE_URL=f"sqlite:///{tmp_path / 'dashboard.sqlite'}",
            XDG_RUNTIME_DIR=runtime_dir,
            PYTHONUNBUFFERED="1",
        )
        yield env


def flask_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def printed_logins(running: Running) -> dict[str, tuple[str, str]]:
    """role -> (email, password) from the demo login lines the command printed."""
    logins = {}
    for line in running.output().splitlines():
        match = LOGIN_LINE.match(line)
        if match:
            logins[match.group(1)] = (match.group(2), match.group(3))
    return logins


def start_sandbox(spawn: Spawn, env: dict[str, str], port: int, **how: bool) -> Running:
    sandbox = spawn(flask_command("sandbox", "--port", str(port)), env, **how)
    prefix = f"Dashboard: http://127.0.0.1:{port}/"
    sandbox.wait_for_line(lambda line: line.startswith(prefix), STARTUP_TIMEOUT)
    return sandbox


# --- HTTP ----------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    url: str
    content_type: str
    body: str


def http_client() -> urllib.request.OpenerDirector:
    """A browser stand-in: keeps cookies, follows redirects, never uses a proxy."""
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
    )


def fetch(
    client: urllib.request.OpenerDirector,
    url: str,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
) -> Reply:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        response = client.open(request, timeout=10)
    except urllib.error.HTTPError as error:
        with error:
            body = error.read().decode()
            return Reply(error.code, error.url, error.headers.get_content_type(), body)
    with response:
        body = response.read().decode()
        return Reply(response.status, response.url, response.headers.get_content_type(), body)


def request_closed_by_server(port: int) -> bytes:
    """One request whose connection the server closes first, leaving it in TIME_WAIT."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := connection.recv(65536):  # until the server hangs up
            reply += chunk
    return reply


def csrf_token(page: str) -> str:
    tag = CSRF_INPUT.search(page)
    assert tag, "the login form carries a csrf_token hidden input"
    value = VALUE_ATTRIBUTE.search(tag.group(0))
    assert value, tag.group(0)
    return value.group(1)


# --- localstripe ---------------------------------------------------------------------------


def start_localstripe(spawn: Spawn, port: int, store: Path) -> Running:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = ["--port", str(port), "--store", str(store)]
    server = spawn([sys.executable, "-m", "dashboard.sandbox.localstripe_server", *args], env)
    client = http_client()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while fetch_or_none(client, f"http://127.0.0.1:{port}/js.stripe.com/v3/") != 200:
        assert server.process.poll() is None, f"localstripe exited:\n{server.output()}"
        assert time.monotonic() < deadline, f"localstripe did not start:\n{server.output()}"
        time.sleep(0.05)
    return server


def fetch_or_none(client: urllib.request.OpenerDirector, url: str) -> int | None:
    try:
        return fetch(client, url).status
    except OSError:
        return None


def stripe(port: int, path: str, form: dict[str, str] | None = None) -> dict[str, object]:
    reply = fetch(
        http_client(),
        f"http://127.0.0.1:{port}{path}",
        form,
        headers={"Authorization": "Bearer sk_test_x"},
    )
    assert reply.status == 200, reply.body
    result: dict[str, object] = json.loads(reply.body)
    return result


def file_state(path: Path) -> tuple[int, int] | None:
    try:
        facts = path.stat()
    except FileNotFoundError:
        return None
    return facts.st_mtime_ns, facts.st_size


# --- tests ---------------------------------------------------------------------------------


def test_localstripe_serves_stripe_on_loopback_only_and_keeps_data_in_its_store(
    spawn: Spawn, tmp_path: Path
) -> None:
    shared_pickle = Path("/tmp/localstripe.pickle")  # noqa: S108 - the stock server's file
    shared_before = file_state(shared_pickle)
    store = tmp_path / "stripe.pickle"
    port = free_port()
    first = start_localstripe(spawn, port, store)

    assert_listens_on_loopback_only(port)
    intent = stripe(
        port,
        "/v1/payment_intents",
        {
            "amount": "1000",
            "currency": "usd",
            "capture_method": "manual",
            "payment_method": "pm_card_visa",
            "confirm": "true",
        },
    )
    assert intent["status"] == "requires_capture"
    assert store.is_file()

    first.process.terminate()
    first.wait(STOP_TIMEOUT)
    port = free_port()
    start_localstripe(spawn, port, store)
    kept = stripe(port, f"/v1/payment_intents/{intent['id']}")
    assert (kept["id"], kept["amount"], kept["status"]) == (intent["id"], 1000, "requires_capture")
    assert file_state(shared_pickle) == shared_before, "localstripe wrote /tmp/localstripe.pickle"


def test_sandbox_serves_demo_dashboard_and_stops_cleanly_on_ctrl_c(
    spawn: Spawn, sandbox_env: dict[str, str]
) -> None:
    port = free_port()
    sandbox = start_sandbox(spawn, sandbox_env, port)
    base = f"http://127.0.0.1:{port}"

    logins = printed_logins(sandbox)
    assert set(logins) == {"admin", "staff", "support"}
    assert all(email == f"{role}@{DEMO_DOMAIN}" for role, (email, _) in logins.items())
    assert_listens_on_loopback_only(port)

    health = fetch(http_client(), base + "/healthz")
    assert (health.status, health.content_type) == (200, "application/json")
    assert json.loads(health.body) == {"status": "ok", "database": "ok"}

    browser = http_client()
    form = fetch(browser, base + "/login")
    assert form.status == 200
    email, password = logins["staff"]
    signed_in = fetch(
        browser,
        base + "/login",
        {"csrf_token": csrf_token(form.body), "email": email, "password": password},
    )
    assert signed_in.status == 200, signed_in.body
    assert urllib.parse.urlsplit(signed_in.url).path == "/", signed_in.body
    orders = fetch(browser, base + "/orders")  # sign-in lands on Home; the demo orders list
    assert orders.status == 200
    for buyer in DEMO_BUYERS:
        assert buyer in orders.body

    # An email: asked for on the sign-in pages, sent by the relay to the SMTP catcher, shown
    # on the sandbox's mail page.
    assert f"{base}/sandbox/mail" in sandbox.output()
    stranger = http_client()
    forgot = fetch(stranger, base + "/login/forgot")
    asked = fetch(
        stranger, base + "/login/forgot", {"csrf_token": csrf_token(forgot.body), "email": email}
    )
    assert "If an account uses that address" in asked.body
    deadline = time.monotonic() + 20
    while "Reset your password" not in (mail := fetch(browser, base + "/sandbox/mail")).body:
        assert time.monotonic() < deadline, "the reset email never reached the mail page"
        time.sleep(0.5)
    assert f"{base}/login/reset/" in mail.body

    children = descendants(sandbox.pid)
    commands = [child.cmdline for child in children if child.ppid == sandbox.pid]
    assert any("dashboard.sandbox.localstripe_server" in command for command in commands)
    assert any("gunicorn" in command for command in commands)
    assert any("outbox relay" in command for command in commands)

    os.kill(sandbox.pid, signal.SIGINT)  # Ctrl-C reaching the sandbox command alone
    assert sandbox.wait(STOP_TIMEOUT) == 0, sandbox.output()
    assert "Stopping the sandbox." in sandbox.output()
    assert [child for child in children if is_running(child)] == []
    assert session_members(sandbox.pid) == []
    assert not accepts_connections("127.0.0.1", port)


def test_sandbox_starts_again_on_the_same_port_right_after_stopping(
    spawn: Spawn, sandbox_env: dict[str, str]
) -> None:
    port = free_port()
    first = start_sandbox(spawn, sandbox_env, port)
    # The server side of a connection it closed stays in TIME_WAIT for a minute after.
    assert request_closed_by_server(port).startswith(b"HTTP/1.1 200 ")
    os.killpg(first.pid, signal.SIGINT)  # Ctrl-C in a terminal: its foreground group
    assert first.wait(STOP_TIMEOUT) == 0, first.output()
    assert session_members(first.pid) == []

    again = start_sandbox(spawn, sandbox_env, port)
    assert printed_logins(again) == printed_logins(first)
    assert fetch(http_client(), f"http://127.0.0.1:{port}/healthz").status == 200
    os.killpg(again.pid, signal.SIGINT)
    assert again.wait(STOP_TIMEOUT) == 0, again.output()
    assert session_members(again.pid) == []


def test_ctrl_c_stops_a_sandbox_started_with_ctrl_c_ignored(
    spawn: Spawn, sandbox_env: dict[str, str]
) -> None:
    """`make run &` from a script: the shell starts it with SIGINT ignored, and Python
    would have kept it so; the sandbox takes Ctrl-C back, as it takes SIGTERM and SIGHUP."""
    sandbox = start_sandbox(spawn, sandbox_env, free_port(), ctrl_c_ignored=True)
    os.kill(sandbox.pid, signal.SIGINT)
    assert sandbox.wait(STOP_TIMEOUT) == 0, sandbox.output()
    assert "Stopping the sandbox." in sandbox.output()
    assert session_members(sandbox.pid) == []


@pytest.mark.parametrize(
    "stop_signal",
    [signal.SIGTERM, signal.SIGHUP],
    ids=["terminated", "terminal-closed"],
)
def test_sandbox_stops_cleanly_when_terminated_or_its_terminal_closes(
    spawn: Spawn, sandbox_env: dict[str, str], stop_signal: signal.Signals
) -> None:
    port = free_port()
    sandbox = start_sandbox(spawn, sandbox_env, port)
    children = descendants(sandbox.pid)

    os.killpg(sandbox.pid, stop_signal)  # a supervisor's stop, or a hang-up of the terminal
    assert sandbox.wait(STOP_TIMEOUT) == 0, sandbox.output()
    assert [child for child in children if is_running(child)] == []
    assert session_members(sandbox.pid) == []
    assert not accepts_connections("127.0.0.1", port)


def test_sandbox_stopped_while_starting_leaves_no_localstripe_behind(
    spawn: Spawn, sandbox_env: dict[str, str]
) -> None:
    sandbox = spawn(flask_command("sandbox", "--port", str(free_port())), sandbox_env)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    localstripe: list[ProcessInfo] = []
    while not localstripe:
        assert sandbox.process.poll() is None, sandbox.output()
        assert time.monotonic() < deadline, sandbox.output()
        localstripe = [
            child
            for child in descendants(sandbox.pid)
            if "dashboard.sandbox.localstripe_server" in child.cmdline
        ]
        time.sleep(0.005)

    sandbox.process.terminate()  # e.g. a supervisor stopping it before it is ready
    assert sandbox.wait(STOP_TIMEOUT) == 0, sandbox.output()
    assert "Dashboard:" not in sandbox.output(), "stopped too late to test a stop while starting"
    assert [child for child in localstripe if is_running(child)] == []
    assert session_members(sandbox.pid) == []


def test_seed_demo_twice_writes_the_demo_data_once(
    spawn: Spawn, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    def seed_and_count() -> tuple[dict[str, tuple[str, str]], tuple[int, ...]]:
        seeding = spawn(flask_command("seed-demo"), sandbox_env)
        assert seeding.wait(COMMAND_TIMEOUT) == 0, seeding.output()
        with closing(sqlite3.connect(tmp_path / "dashboard.sqlite")) as database:
            marks = ",".join("?" * len(DEMO_BUYERS))
            counts = (
                database.execute(
                    "SELECT count(*) FROM users WHERE email LIKE ?", [f"%@{DEMO_DOMAIN}"]
                ).fetchone()[0],
                database.execute(
                    f"SELECT count(*) FROM orders WHERE buyer_email IN ({marks})",  # noqa: S608
                    DEMO_BUYERS,
                ).fetchone()[0],
                database.execute("SELECT count(*) FROM users").fetchone()[0],
                database.execute("SELECT count(*) FROM orders").fetchone()[0],
                database.execute("SELECT count(*) FROM order_lines").fetchone()[0],
                database.execute("SELECT count(*) FROM products WHERE active").fetchone()[0],
            )
        return printed_logins(seeding), counts

    first_logins, first_counts = seed_and_count()
    assert set(first_logins) == {"admin", "staff", "support"}
    assert first_counts[:2] == (3, len(DEMO_ORDERS))
    assert first_counts[-1] == len(DEMO_PRODUCTS)  # a catalog to add lines from, or to sell

    second_logins, second_counts = seed_and_count()
    assert second_logins == first_logins
    assert second_counts == first_counts


def test_sandbox_on_a_port_in_use_says_so_and_starts_nothing(
    spawn: Spawn, sandbox_env: dict[str, str]
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = int(squatter.getsockname()[1])
        sandbox = spawn(flask_command("sandbox", "--port", str(port)), sandbox_env)
        code = sandbox.wait(COMMAND_TIMEOUT)

    output = sandbox.output()
    assert code != 0, output
    assert f"Port {port} " in output
    assert "in use" in output
    assert "Traceback" not in output
    assert session_members(sandbox.pid) == []


def test_flask_commands_beside_the_sandbox_use_its_localstripe_without_settings(
    spawn: Spawn, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    """Issue 12, item 21: with `make run` up, `flask --app wsgi stripe sync` said no secret
    key is configured. The environment here has no STRIPE_* setting at all."""
    assert not any(name.startswith("STRIPE_") for name in sandbox_env)
    port = free_port()
    sandbox = start_sandbox(spawn, sandbox_env, port)

    sync = spawn(flask_command("stripe", "sync"), sandbox_env)
    code = sync.wait(COMMAND_TIMEOUT)
    assert "No Stripe secret key" not in sync.output()
    assert code == 0, sync.output()
    assert "events" in sync.output(), sync.output()
    # Only what the command has to say: no library announcing itself (alembic's plugins).
    assert "alembic" not in sync.output(), sync.output()
    # What it read: the instance folder's note of the running sandbox, kept private.
    announced = tmp_path / "instance" / "sandbox-stripe.json"
    assert stat.S_IMODE(announced.stat().st_mode) == 0o600  # it holds the webhook secret
    assert json.loads(announced.read_text())["secret_key"].startswith("sk_test_")

    os.kill(sandbox.pid, signal.SIGINT)
    assert sandbox.wait(STOP_TIMEOUT) == 0, sandbox.output()
    assert not announced.exists()  # gone with the sandbox: nothing points at a dead server
    after = spawn(flask_command("stripe", "sync"), sandbox_env)
    assert after.wait(COMMAND_TIMEOUT) != 0
    assert "No Stripe secret key is configured" in after.output()
