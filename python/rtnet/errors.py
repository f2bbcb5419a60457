"""Errors a user can cause and fix: the CLI prints their message on one line and exits 2."""

from __future__ import annotations


class RtnetError(Exception):
    """Base of user-facing errors; ``str(err)`` is a complete one-line explanation."""


class WeightsError(RtnetError):
    """A checkpoint is missing, unreadable, or belongs to another network."""


class SourceError(RtnetError):
    """A video file or camera cannot be opened or read."""


class ConfigError(RtnetError):
    """An option value is invalid (profile values, output paths, model choice...)."""


class OutputError(RtnetError):
    """An output (JSONL, video) cannot be written: disk full, file too large, I/O error."""
