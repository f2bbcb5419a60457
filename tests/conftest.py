"""Shared fixtures: the reference folder and a full resources tree of stand-in SenseKit weights."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

BACKBONE_FILES = {
    "sien": "backbone/strided_inflated_efficientnet.ckpt",
    "simn": "backbone/strided_inflated_mobilenet.ckpt",
}


def find_reference_dir() -> Path:
    env = os.environ.get("RTNET_REFERENCE")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "reference", REPO / "shared" / "reference"]
    for candidate in candidates:
        if (candidate / "manifest.json").is_file():
            return candidate
    raise RuntimeError(
        "reference fixtures not found: set RTNET_REFERENCE or put shared/reference beside the repo"
    )


def fill_state_dict(manifest: dict, network: str) -> dict:
    """The reference README's fill rule for the stand-in weights of ``network``."""
    from rtnet.bench import fill_rule_state_dict

    return fill_rule_state_dict(manifest["tensors"][network], manifest["seeds"][network])


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return find_reference_dir()


@pytest.fixture(scope="session")
def manifest(reference_dir: Path) -> dict:
    return json.loads((reference_dir / "manifest.json").read_text())


@pytest.fixture(scope="session")
def standin_weights_dir(
    tmp_path_factory: pytest.TempPathFactory, reference_dir: Path, manifest: dict
) -> Path:
    """A resources tree like the released one: fill-rule backbones (legacy) + reference heads."""
    import torch

    root = tmp_path_factory.mktemp("weights")
    shutil.copytree(reference_dir / "resources", root, dirs_exist_ok=True)
    for network, rel in BACKBONE_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(fill_state_dict(manifest, network), path, _use_new_zipfile_serialization=False)
    return root


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """A private X display: Xvfb picks a free number and writes it to the pipe we give it."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 30)
        assert ready, "Xvfb did not start within 30 s"
        number = os.read(read_fd, 64).decode().strip()
        assert number.isdigit(), f"Xvfb gave no display number ({number!r})"
        yield f":{number}"
    finally:
        os.close(read_fd)
        server.terminate()
        server.wait(timeout=10)
