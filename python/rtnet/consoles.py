"""Where rich output goes, laid out for a terminal or for a pipe (the CLI, record, bench).

On a terminal rich wraps at the window's width. Piped or redirected, rich would wrap at 80
columns and split the lines people copy (``Saved DIR -> rtnet run --classifier DIR``, a
session's ``rtnet report N`` hint) in two: there a line stays one line.
"""

from __future__ import annotations

import logging
import sys
from typing import IO

from rich.console import Console
from rich.logging import RichHandler

# As good as unlimited for a line; tables take only the width they need (they do not expand).
PIPED_WIDTH = 4096


def stdout_console(file: IO[str] | None = None) -> Console:
    """For reports and tables on standard output (or ``file``)."""
    console = Console(file=file)
    if console.is_terminal:
        return console
    return Console(file=file, width=PIPED_WIDTH, soft_wrap=True)


def stderr_console() -> Console:
    """For the live panel, the run's summary and log lines (stdout stays free for ``--jsonl -``).
    Piped, there is no live panel (rtnet.sinks.terminal), so nothing is stretched to the width."""
    console = Console(stderr=True)
    if console.is_terminal:
        return console
    return Console(stderr=True, width=PIPED_WIDTH, soft_wrap=True)


def log_handler(console: Console) -> logging.Handler:
    """The ``rtnet`` logger's handler: rich's on a terminal; piped, plain lines in the same
    layout (rich's log lines are padded out to the console's width, so they cannot widen)."""
    if console.is_terminal:
        return RichHandler(console=console, show_path=False, show_time=False)
    handler = logging.StreamHandler(console.file if console.file is not None else sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)-8s %(message)s"))
    return handler
