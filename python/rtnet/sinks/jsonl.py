"""One JSON object per model step, one per line, flushed as written (other tools tail it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from rtnet.apps import StepResult, Summary
from rtnet.sinks.base import RunStats, Sink, check_writable

STDOUT = "-"


class JsonlSink(Sink):
    """Writes ``StepResult.record`` to ``path`` ('-' for standard output)."""

    def __init__(self, path: str | Path) -> None:
        self.to_stdout = str(path) == STDOUT
        self.path = None if self.to_stdout else check_writable(Path(path), "JSONL file")
        self._file: TextIO | None = None

    def start(self, stats: RunStats) -> None:
        if self.to_stdout:
            self._file = sys.stdout
        else:
            assert self.path is not None
            self._file = self.path.open("w", encoding="utf-8")

    def on_step(self, result: StepResult, stats: RunStats) -> None:
        assert self._file is not None
        # One write per line and a flush: a reader (or a Ctrl-C) never sees half a line.
        self._file.write(json.dumps(result.record, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self, summary: Summary, stats: RunStats) -> None:
        if self._file is not None and not self.to_stdout:
            self._file.close()
        self._file = None
