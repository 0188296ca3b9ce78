"""Fewer passes of Python's cyclic garbage collector while an account is collected.

A collection allocates hundreds of thousands of short-lived objects (botocore's requests and parsed
responses leave about 190 objects in reference cycles per call). With Python's default thresholds a
generation-0 pass runs every 700 allocations, and every hundredth pass rescans the whole heap: the
imported modules, botocore's service models and everything already collected. Measured on the
benchmark estate, that was a third of the collector's CPU (1.4 of 4.5 s).

While a collection runs, the heap it starts with is frozen (`gc.freeze`: modules and models, not
garbage, and never rescanned) and a generation-0 pass runs every 10 000 allocations. Cycles are still
collected, in fewer, larger passes. The process's own settings come back when the last collection
running in it ends.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

COLLECTION_THRESHOLDS = (10_000, 10, 10)

_lock = threading.Lock()
_running = 0
_saved: tuple[int, int, int] | None = None
_froze = False


@contextlib.contextmanager
def fewer_gc_passes(thresholds: tuple[int, int, int] = COLLECTION_THRESHOLDS) -> Iterator[None]:
    """Freeze the current heap and raise the thresholds; restore both when the last user leaves."""
    global _running, _saved, _froze
    with _lock:
        if _running == 0:
            _saved = gc.get_threshold()
            # A process that froze its heap itself (before forking workers, say) keeps it as it is.
            _froze = gc.get_freeze_count() == 0
            if _froze:
                gc.freeze()
            gc.set_threshold(*thresholds)
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                if _froze:
                    gc.unfreeze()
                _saved, _froze = None, False
