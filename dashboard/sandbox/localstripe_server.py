"""Run localstripe bound to loopback with its store in a file of our choosing.

The stock `localstripe` command listens on every interface and keeps its data in a fixed
file under /tmp, shared by whoever runs it; neither is acceptable for a sandbox or a test.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

from aiohttp import web
from localstripe import resources, server


def _use_store_file(path: Path) -> None:
    def load(store: resources.Store) -> None:
        if path.exists():
            with path.open("rb") as handle:
                saved = pickle.load(handle)  # noqa: S301 - our own file, written below
            dict.clear(store)
            dict.update(store, saved)

    def dump(store: resources.Store) -> None:
        partial = path.with_suffix(".tmp")
        with partial.open("wb") as handle:
            pickle.dump(dict(store), handle, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(path)

    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = dump


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", type=Path, help="keep data in this file across restarts")
    args = parser.parse_args(argv)
    if args.store is not None:
        _use_store_file(args.store)
        resources.store.try_load_from_disk()
    else:
        resources.Store.dump_to_disk = lambda store: None
    web.run_app(server.app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
