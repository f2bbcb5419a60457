"""Does a call release the GIL? A probe that cannot pass for a call that holds it."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable


def main_thread_ran_during(call: Callable[[], object], max_calls: int = 200) -> bool | None:
    """Whether the calling thread got to run while a worker thread was inside `call`.

    The switch interval is set far beyond the probe's length, so a thread holding the GIL is never
    asked to hand it over: once the worker is in its loop of `call`s, this thread can run only
    while the worker is inside a `call` that releases the GIL, or after the worker is done. For a
    call that holds the GIL (a pure-Python loop, say) the probe therefore always answers False;
    for one that releases it, True as soon as the OS schedules this thread during one of the
    `max_calls` calls. None: inconclusive (this thread ran before the worker started its loop).
    """
    state = {"entered": False, "finished": False, "stop": False}

    def work() -> None:
        state["entered"] = True
        for _ in range(max_calls):
            if state["stop"]:
                break
            call()
        state["finished"] = True

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        worker = threading.Thread(target=work)
        worker.start()
        # This line runs when the worker first lets go of the GIL.
        entered, finished = state["entered"], state["finished"]
        state["stop"] = True
        worker.join()
    finally:
        sys.setswitchinterval(previous)
    if not entered:
        return None
    return not finished


def releases_the_gil(call: Callable[[], object], attempts: int = 5) -> bool:
    """True when any of a few probes saw the main thread run inside `call` (a loaded machine may
    not schedule it during one probe's calls); False only if none did."""
    return any(main_thread_ran_during(call) for _ in range(attempts))
