"""Reading weight files (``rtnet.models.checkpoint``) and a custom classifier's checkpoint folder:
every bad file is one clear error, and there is one reader (the import rules between models and
the weights catalogue are in test_import_rules.py)."""

from __future__ import annotations

import ast
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from engine_helpers import assert_one_line_error
from engine_helpers import run_rtnet as rtnet
from rtnet.errors import ConfigError, WeightsError
from rtnet.models import build_head, head_signature, load_checkpoint
from rtnet.models.checkpoint import load_state_dict
from rtnet.training.classifier import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    Checkpoint,
    ClassifierConfig,
    read_checkpoint,
    write_checkpoint,
)
from rtnet.training.head import HeadConfig, TemporalHead

PACKAGE = Path(__file__).resolve().parent.parent / "python" / "rtnet"

# --- one reader -------------------------------------------------------------


def calls(path: Path) -> set[str]:
    """The dotted names ``path`` calls (``torch.load``, ``json.loads``, ...)."""
    tree = ast.parse(path.read_text(), str(path))
    return {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}


def test_only_the_checkpoint_module_calls_torch_load() -> None:
    callers = sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "torch.load" in calls(path)
    )
    assert callers == ["models/checkpoint.py"]


# --- non-finite values -------------------------------------------------------------------------


def gestures_head_state() -> dict[str, torch.Tensor]:
    return {key: torch.full(shape, 0.01) for key, shape in head_signature("gestures")}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("zip_format", [False, True], ids=["legacy", "zip"])
def test_non_finite_values_are_refused_naming_file_and_tensor(
    tmp_path: Path, value: float, zip_format: bool
) -> None:
    """Right keys and shapes, but NaN or infinite values: such a head used to load."""
    state = gestures_head_state()
    state["0.bias"][[3, 7]] = value
    path = tmp_path / "sien_logreg.ckpt"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    expected = (
        rf"^{path}: 0\.bias holds 2 NaN or infinite values of 30: "
        r"not usable gestures classifier head weights -- download it again$"
    )
    with pytest.raises(WeightsError, match=expected):
        build_head("gestures", path)
    with pytest.raises(WeightsError, match=expected):
        load_checkpoint(path, "gestures")


def test_finite_weights_load_unchanged(tmp_path: Path) -> None:
    state = gestures_head_state()
    path = tmp_path / "head.ckpt"
    torch.save(state, path)
    loaded = load_state_dict(path, head_signature("gestures"))
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[key], state[key]) for key in state)


def test_a_nested_state_dict_is_not_a_flat_one(tmp_path: Path) -> None:
    path = tmp_path / "nested.ckpt"
    torch.save({"state_dict": gestures_head_state()}, path)
    with pytest.raises(WeightsError, match=rf"^{path}: holds dict, not a state dict of tensors"):
        load_state_dict(path)


# --- a classifier's config.json ---------------------------------------------------------------


@pytest.fixture
def classifier(tmp_path: Path) -> Path:
    """A valid checkpoint folder (an untrained head on lite0), written as `rtnet train` does."""
    head = HeadConfig()
    config = ClassifierConfig(backbone="lite0", version=None, head=head)
    state = TemporalHead(2, head).state_dict()
    return write_checkpoint(
        Checkpoint(tmp_path / "checkpoints" / "clap", ("clap", "wave"), config, state, {})
    )


def edit_config(folder: Path, change: dict[str, Any], head: dict[str, Any] | None = None) -> None:
    raw = json.loads((folder / CONFIG_FILE).read_text())
    raw |= change
    raw["head"] |= head or {}
    (folder / CONFIG_FILE).write_text(json.dumps(raw))


def test_a_valid_config_reads_back(classifier: Path) -> None:
    checkpoint = read_checkpoint(classifier)
    assert checkpoint.config.head == HeadConfig()
    assert (checkpoint.config.backbone, checkpoint.config.version) == ("lite0", None)
    assert checkpoint.labels == ("clap", "wave")


# The issue's cases: they read without complaint (negative finetune_layers), allocated without
# bound (head.steps 10**12) or ended in an internal error.
Case = tuple[dict[str, Any], dict[str, Any], str]  # config change, head change, message
ISSUE_CASES: dict[str, Case] = {
    "nan-dropout": ({}, {"dropout": math.nan}, r"invalid head\.dropout NaN: expected a finite"),
    "huge-steps": (
        {},
        {"steps": 10**12},
        r"invalid head\.steps 1000000000000: expected a whole number from 1 to 64",
    ),
    "negative-finetune": (
        {"finetune_layers": -1},
        {},
        r"invalid finetune_layers -1: expected a whole number from 0 to 64",
    ),
}
OTHER_CASES: dict[str, Case] = {
    "steps-text": ({}, {"steps": "4"}, r'invalid head\.steps "4": expected a whole number'),
    "steps-bool": ({}, {"steps": True}, r"invalid head\.steps true: expected a whole number"),
    "grid-too-fine": (
        {},
        {"grid": 9},
        r"invalid head\.grid 9: expected a whole number from 1 to 8",
    ),
    "dropout-one": ({}, {"dropout": 1.0}, r"invalid head\.dropout 1\.0: .* from 0 below 1"),
    "channels-zero": ({}, {"motion_channels": 0}, r"invalid head\.motion_channels 0"),
    "unknown-head-field": (
        {},
        {"layers": 3},
        r"not a valid classifier config \(unknown field head\.layers\)",
    ),
    "backbone": ({"backbone": "resnet"}, {}, r"invalid backbone \"resnet\": expected one of"),
    "lite0-version": ({"version": "pro"}, {}, r"invalid version \"pro\": expected null"),
    "metrics": ({"metrics": [1]}, {}, r"invalid metrics \[1\]: expected a JSON object"),
    "fps-inf": ({"fps": math.inf}, {}, r"invalid fps Infinity: expected a finite number from 0$"),
}


@pytest.mark.parametrize(
    ("change", "head", "message"),
    list((ISSUE_CASES | OTHER_CASES).values()),
    ids=list(ISSUE_CASES | OTHER_CASES),
)
def test_every_config_field_is_checked(
    classifier: Path, change: dict[str, Any], head: dict[str, Any], message: str
) -> None:
    edit_config(classifier, change, head)
    with pytest.raises(ConfigError, match=rf"^{classifier / CONFIG_FILE}: {message}"):
        read_checkpoint(classifier)


def test_config_that_is_not_an_object_or_lacks_a_field(classifier: Path) -> None:
    path = classifier / CONFIG_FILE
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"not a valid classifier config \(a JSON object"):
        read_checkpoint(classifier)
    path.write_text(json.dumps({"format": 1, "backbone": "lite0"}))
    with pytest.raises(ConfigError, match=r"not a valid classifier config \(version is missing"):
        read_checkpoint(classifier)


@pytest.mark.parametrize("case", [*ISSUE_CASES, "not-utf8", "nan-weights"])
def test_run_classifier_with_a_bad_checkpoint_is_one_error_line(
    classifier: Path, reference_dir: Path, case: str
) -> None:
    if case == "not-utf8":
        (classifier / CONFIG_FILE).write_bytes(b'{"backbone": "lite0 \xff\xfe"}')
        pattern = rf"{classifier / CONFIG_FILE}: not UTF-8 text \(byte 0xff at offset 20\)"
    elif case == "nan-weights":
        state = torch.load(classifier / WEIGHTS_FILE, weights_only=True)
        state["head.classify.bias"][0] = math.nan
        buffer = io.BytesIO()
        torch.save(state, buffer)
        (classifier / WEIGHTS_FILE).write_bytes(buffer.getvalue())
        pattern = rf"{classifier / WEIGHTS_FILE}: head\.classify\.bias holds 1 NaN .* train again"
    else:
        change, head, message = ISSUE_CASES[case]
        edit_config(classifier, change, head)
        pattern = message
    result = rtnet(
        "run",
        "--classifier",
        str(classifier),
        "--path-in",
        str(reference_dir / "video.mkv"),
        "--no-window",
        "--quiet",
    )
    assert_one_line_error(result, pattern)
