"""One version: Cargo.toml's, carried by maturin into the package metadata and shown by the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import rtnet

CARGO_TOML = Path(__file__).resolve().parent.parent / "Cargo.toml"


def cargo_version() -> str:
    package = CARGO_TOML.read_text().split("[package]", 1)[1].split("\n[", 1)[0]
    found = re.search(r'^version\s*=\s*"([^"]+)"', package, re.MULTILINE)
    assert found, "no version in Cargo.toml's [package]"
    return found.group(1)


def test_rtnet_version_is_cargos() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "rtnet", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"rtnet {cargo_version()}"
    assert rtnet.__version__ == cargo_version()


def test_the_version_is_written_once() -> None:
    pyproject = (CARGO_TOML.parent / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert not re.search(r"^version\s*=", pyproject, re.MULTILINE)
    source = Path(rtnet.__file__).read_text()
    assert cargo_version() not in source
