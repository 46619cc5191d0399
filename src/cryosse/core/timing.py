"""Wall-clock timings of a run's steps, as recorded in its summaries."""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager


@contextmanager
def timed(timings: MutableMapping[str, float], step: str) -> Iterator[None]:
    """Add the seconds the block takes to `timings[step]` (created at 0 if missing), also when
    it raises."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - start
