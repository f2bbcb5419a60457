"""Signals that end a run: SIGINT (Ctrl-C), SIGTERM and SIGHUP all ask the engine to stop.

The handler only records the signal and sets a flag; the engine sees the flag at its next poll
and finishes in the main thread (outputs flushed, the video's index written, the summary
printed). Any further signal is ignored, so a second Ctrl-C or a SIGTERM while the outputs are
being finalised can never cut a file short. A run stopped by a signal exits with 128 + the
signal's number, as shells report a process killed by it: 130 for SIGINT, 143 for SIGTERM, 129
for SIGHUP. SIGKILL cannot be caught: then only an .mkv (FFV1) output stays playable.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import FrameType

# SIGHUP does not exist on Windows.
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


# SIGPIPE's status: a run whose `--jsonl -` reader went away ends quietly with it.
EXIT_BROKEN_PIPE = 128 + 13


def exit_status(signum: int) -> int:
    """The status a shell reports for a process ended by ``signum``."""
    return 128 + signum


@dataclass
class StopRequest:
    """Set once, by the first stop signal (or by anyone calling ``event.set()``)."""

    event: threading.Event = field(default_factory=threading.Event)
    signum: int | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        # Runs in the main thread between two bytecodes: record, set the flag, return. Nothing
        # is raised, so whatever the main thread was doing (closing a file) goes on unharmed.
        if self.signum is None:
            self.signum = signum
        self.event.set()

    @property
    def requested(self) -> bool:
        return self.event.is_set()


@contextlib.contextmanager
def stop_on_signals(*, restore: bool = True) -> Iterator[StopRequest]:
    """Route SIGINT, SIGTERM and SIGHUP to a ``StopRequest`` while the block runs.

    ``restore=False`` ignores these signals after the block: for a process that ends right after
    the run (its outputs are closed by then), so a signal arriving while the interpreter shuts
    down neither raises KeyboardInterrupt inside an ``atexit`` hook (a traceback, and status 0)
    nor kills it half-way. SIG_IGN, not a Python handler: the interpreter resets its own
    handlers to the default action early in its shutdown, but leaves an ignored signal ignored."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request  # signals only reach the main thread; nothing to install
        return
    previous = {signum: signal.signal(signum, request.handle) for signum in STOP_SIGNALS}
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            if not restore:
                handler = signal.SIG_IGN
            elif handler is None:  # installed from C, not restorable from Python
                handler = signal.SIG_DFL
            signal.signal(signum, handler)
