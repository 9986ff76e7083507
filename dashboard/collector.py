"""The garbage collector, set for a process that serves or applies events for a long time.

Once the app is loaded, its modules, mappers and templates are frozen out of the
collector's sight, and it runs less often: without this, a full collection scanned them
all every second or so under load. In a gunicorn worker that was 140-275 ms with every
thread stopped, the webhook endpoint's slowest answers (docs/benchmarks.md, eighth run);
in `flask stripe sync` the collections took a tenth of the run (ninth run). Called by the
process entry points (wsgi.py, bench/bench_app.py), never by create_app: a test process
builds many apps and must collect them.
"""

from __future__ import annotations

import gc


def settle() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
