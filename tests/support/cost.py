"""What a piece of work costs, measured so that the bound a test sets is about the code, not about the machine.

A bound on hostile input ("refused in under 0.5 s") is a bound on the work our code does. Two things in a long
test session are not that work and once cost a CI run 1.9 s on a check measured at 0.1 s:
- other threads of the test process (session servers, the alert app's loops): ``time.process_time`` counts them,
  ``time.thread_time`` counts only the calling thread;
- the cyclic garbage collector: a full collection walks the whole session's heap, whoever allocated the object
  that set it off. It is held off while the work runs (and runs, as it would have, after).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def cpu_clock() -> Iterator[Callable[[], float]]:
    """``with cpu_clock() as spent: ...; assert spent() < bound``: CPU seconds of this thread in the block,
    garbage collection held off."""
    was = gc.isenabled()
    gc.disable()
    started = time.thread_time()
    try:
        yield lambda: time.thread_time() - started
    finally:
        if was:
            gc.enable()
