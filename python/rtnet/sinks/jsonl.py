"""One JSON object per model step, one per line, flushed as written (other tools tail it).

Lines are whole or absent: each is written with one call and, if the write fails (disk full,
file too large), the file is cut back to the last whole line before the error is reported.
Numbers that are not finite (a NaN from broken weights) are written as ``null``: a bare ``NaN``
is not JSON, and a consumer can tell "no value" from a value.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from rtnet.apps import StepResult, Summary
from rtnet.errors import OutputError
from rtnet.sinks.base import RunStats, Sink, check_writable

STDOUT = "-"


def json_line(record: Any) -> str:
    """``record`` as one line of strict JSON (non-finite numbers become null), newline ended."""
    return json.dumps(_finite(record), ensure_ascii=False, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


class JsonlSink(Sink):
    """Writes ``StepResult.record`` to ``path`` ('-' for standard output).

    On standard output, a reader that goes away (``| head -1``) ends the run quietly, as it ends
    any Unix tool: ``reader_gone`` tells the CLI to exit with the status of SIGPIPE."""

    def __init__(self, path: str | Path) -> None:
        self.to_stdout = str(path) == STDOUT
        self.path = None if self.to_stdout else check_writable(Path(path), "JSONL file")
        self._fd: int | None = None
        self._size = 0  # bytes of whole lines written so far
        self.reader_gone = False

    def start(self, stats: RunStats) -> None:
        if self.to_stdout:
            return
        assert self.path is not None
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        except OSError as err:
            raise OutputError(f"cannot write JSONL file {self.path}: {_reason(err)}") from None
        self._size = 0

    def on_step(self, result: StepResult, stats: RunStats) -> None:
        if self.reader_gone:
            return
        line = json_line(result.record)
        if self.to_stdout:
            self._write_stdout(line)
        else:
            self._write_file(line.encode("utf-8"))

    def _write_stdout(self, line: str) -> None:
        try:
            sys.stdout.write(line)
            sys.stdout.flush()
        except BrokenPipeError:
            self.reader_gone = True
            # Python would flush stdout again at exit and complain on stderr: point it nowhere.
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
            except (OSError, ValueError):  # stdout without a descriptor (a test's capture)
                pass
        except OSError as err:
            raise OutputError(f"cannot write JSONL to standard output: {_reason(err)}") from None

    def _write_file(self, data: bytes) -> None:
        assert self._fd is not None
        written = 0
        try:
            while written < len(data):  # a regular file takes it in one go; a pipe may not
                written += os.write(self._fd, data[written:])
        except OSError as err:
            # Back to the last whole line: a reader never sees half a record.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            raise OutputError(f"cannot write JSONL file {self.path}: {_reason(err)}") from None
        self._size += written

    def stop_requested(self) -> bool:
        return self.reader_gone

    def close(self, summary: Summary, stats: RunStats) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError as err:  # NFS and the like report a failed write only here
                raise OutputError(f"cannot write JSONL file {self.path}: {_reason(err)}") from None


def _reason(err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return "no space left on the device"
    if err.errno == errno.EFBIG:
        return "file too large for this file system (or the file size limit)"
    return err.strerror or str(err)
