"""How long to wait before trying a delivery again: exponential, capped, with jitter."""

from __future__ import annotations

import random
from collections.abc import Callable


def retry_delay(
    attempts: int, *, base: float, cap: float, draw: Callable[[], float] = random.random
) -> float:
    """Seconds before the next try after `attempts` tries (1 or more): `base` doubled each
    time up to `cap`, of which a random half is kept ("equal jitter"), so relays that failed
    together (a server that was down) do not all come back at the same instant, and none
    waits less than half its step."""
    step = min(float(cap), float(base) * 2.0 ** max(0, attempts - 1))
    return step / 2 + step / 2 * draw()
