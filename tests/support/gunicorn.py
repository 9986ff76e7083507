"""The dashboard served by a real gunicorn, configured by the project's gunicorn.conf.py,
for behaviour that is gunicorn's own (its access log, the headers it maps into the WSGI
environ). It serves `wsgi:app` on the test's database with the tests' SECRET_KEY, so pay
links the test makes open there too."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.app import base_config, free_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"
# Settings a developer's shell may carry that would point the server elsewhere.
FOREIGN = ("STRIPE_", "FLASK_", "GUNICORN_", "DATABASE_URL", "SECRET_KEY", "INSTANCE_PATH")


@dataclass(frozen=True)
class Served:
    url: str
    port: int
    log: Path  # gunicorn's stdout and stderr: the access log ("-") and the error log

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: str = ""
    ) -> tuple[int, dict[str, str], str]:
        """One request sent as written (http.client does not normalise the path)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            encoded = body.encode()
            connection.putheader("Content-Length", str(len(encoded)))
            connection.endheaders(encoded)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode()
        finally:
            connection.close()


@contextmanager
def gunicorn(database_url: str, instance: Path, log: Path) -> Iterator[Served]:
    """gunicorn.conf.py as production runs it (one worker), until the block ends."""
    port = free_port()
    config = base_config(database_url)
    with tempfile.TemporaryDirectory(prefix="gctl") as runtime_dir:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)},
            "DATABASE_URL": database_url,
            "SECRET_KEY": config["SECRET_KEY"],
            "PUBLIC_BASE_URL": config["PUBLIC_BASE_URL"],
            "INSTANCE_PATH": str(instance),
            "PYTHONPATH": str(ROOT),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "2",
            # gunicorn's control socket is otherwise ~/.gunicorn/, shared with any other.
            "XDG_RUNTIME_DIR": runtime_dir,
        }
        with gunicorn_running([], env, log) as url:
            yield Served(url, port, log)


@contextmanager
def gunicorn_running(arguments: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    """gunicorn with the project's gunicorn.conf.py and these arguments (GUNICORN_BIND in
    `env` says where), its output in `log`; its URL once /healthz answers, until the block
    ends, then stopped."""
    bind = env["GUNICORN_BIND"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(GUNICORN), "--config", str(ROOT / "gunicorn.conf.py"), *arguments],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{bind}"
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with direct.open(url + "/healthz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(
                        f"gunicorn did not start (see {log}):\n{log.read_text()[-4000:]}"
                    ) from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
