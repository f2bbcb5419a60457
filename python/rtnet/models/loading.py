"""Building networks in a short-lived thread, so that the inference thread's OpenMP runs fast."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def build_off_thread(build: Callable[[], T]) -> T:
    """``build()``, run in a short-lived thread (exceptions are raised here).

    Loading weights copies tensors with OpenMP, and libgomp keeps a worker pool for each thread
    that ran parallel work, as long as that thread lives. A pool left idle in the caller's thread
    (the main one, while inference runs in another) makes libgomp count more threads than cores
    and all but stop spinning at barriers, so every parallel region of the inference thread pays
    a futex wake-up: efficientnet steps were ~25% slower on 2 cores. A finished thread takes its
    pool with it.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(build())
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=run, name="rtnet-load")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]
