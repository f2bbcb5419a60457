"""Locating, selecting, loading and installing the SenseKit weight files."""

from __future__ import annotations

import errno
import importlib
import io
import os
import re
import shlex
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import torch
from rich.console import Console

from engine_helpers import assert_one_line_error, rtnet_command, rtnet_env
from engine_helpers import run_rtnet as rtnet
from rtnet.errors import ConfigError, WeightsError
from rtnet.models import build_backbone, build_head, load_checkpoint
from rtnet.weights import (
    ENV_VAR,
    TASKS,
    WEIGHT_FILES,
    install,
    print_report,
    resolve_weights_dir,
    select_model,
    user_weights_dir,
    weights_report,
)

SIEN = "backbone/strided_inflated_efficientnet.ckpt"
SIMN = "backbone/strided_inflated_mobilenet.ckpt"
FITNESS_SIMN = "fitness_activity_recognition/simn_logreg.ckpt"
GESTURES_SIEN = "gesture_recognition/sien_logreg.ckpt"


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test sees the real environment, working directory or user data dir."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def touch_model(
    root: Path, model: str, version: str, kinds: tuple[str, ...], legacy: bool = False
) -> None:
    """Empty stand-ins (selection looks at presence only): current names, or the first release's."""
    for kind in kinds:
        names = WEIGHT_FILES[(model, version)][kind]  # type: ignore[index]
        path = root / names[-1 if legacy else 0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def touch_full(root: Path, model: str, version: str) -> None:
    touch_model(root, model, version, tuple(WEIGHT_FILES[(model, version)]))  # type: ignore[index]


# --- where ---------------------------------------------------------------------------------


def test_search_order_cli_then_env_then_resources_then_user_dir(
    isolated_dirs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = tmp_path / "xdg-data" / "rtnet" / "weights"
    assert user_weights_dir() == user
    assert resolve_weights_dir() == [isolated_dirs / "resources", user]
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert resolve_weights_dir() == [tmp_path / "env"]
    assert resolve_weights_dir(tmp_path / "cli") == [tmp_path / "cli"]


def test_resources_folder_wins_over_user_dir_and_user_dir_is_the_fallback(
    isolated_dirs: Path,
) -> None:
    touch_full(isolated_dirs / "resources", "efficientnet", "lite")
    touch_full(user_weights_dir(), "mobilenet", "pro")
    chosen = select_model("fitness")
    assert (chosen.model, chosen.version) == ("efficientnet", "lite")
    assert (
        chosen.backbone
        == isolated_dirs / "resources/backbone/strided_inflated_efficientnet_lite.ckpt"
    )
    # Nothing for reps in ./resources: the user data dir is searched next... and lacks it too.
    with pytest.raises(WeightsError, match="reps"):
        select_model("reps")
    touch_model(user_weights_dir(), "efficientnet", "pro", ("backbone", "reps"))
    assert select_model("reps").backbone == user_weights_dir() / SIEN


def test_env_var_and_cli_dir_are_the_only_folders_searched(
    isolated_dirs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch_full(isolated_dirs / "resources", "mobilenet", "pro")
    env_dir, cli_dir = tmp_path / "env", tmp_path / "cli"
    touch_full(env_dir, "efficientnet", "pro")
    touch_full(cli_dir, "mobilenet", "lite")
    monkeypatch.setenv(ENV_VAR, str(env_dir))
    assert select_model("fitness").label == "efficientnet pro"
    assert select_model("fitness", weights_dir=cli_dir).label == "mobilenet lite"
    with pytest.raises(WeightsError, match="--weights-dir"):
        select_model("reps", weights_dir=cli_dir)


# --- which ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "present", "expected"),
    [
        ("fitness", [("efficientnet", "pro"), ("mobilenet", "lite")], "efficientnet pro"),
        ("fitness", [("efficientnet", "lite"), ("mobilenet", "lite")], "mobilenet lite"),
        ("fitness", [("efficientnet", "pro"), ("mobilenet", "pro")], "mobilenet pro"),
        ("calories", [("efficientnet", "lite"), ("mobilenet", "pro")], "mobilenet pro"),
        ("gestures", [("mobilenet", "pro"), ("efficientnet", "pro")], "efficientnet pro"),
        ("gestures", [("mobilenet", "pro"), ("efficientnet", "lite")], "mobilenet pro"),
        ("gestures", [("mobilenet", "lite"), ("efficientnet", "lite")], "efficientnet lite"),
        ("reps", [("mobilenet", "pro"), ("efficientnet", "pro")], "efficientnet pro"),
    ],
)
def test_default_model_is_the_first_complete_one_in_task_order(
    tmp_path: Path, task: str, present: list[tuple[str, str]], expected: str
) -> None:
    for model, version in present:
        touch_full(tmp_path, model, version)
    assert select_model(task, weights_dir=tmp_path).label == expected  # type: ignore[arg-type]


def test_incomplete_models_are_skipped(tmp_path: Path) -> None:
    # mobilenet pro lacks its MET head: fitness falls back to efficientnet pro; gestures runs.
    touch_model(tmp_path, "mobilenet", "pro", ("backbone", "fitness", "gestures"))
    touch_full(tmp_path, "efficientnet", "pro")
    chosen = select_model("fitness", weights_dir=tmp_path)
    assert chosen.label == "efficientnet pro"
    assert set(chosen.heads) == {"fitness", "met"}
    assert (
        select_model("gestures", model="mobilenet", weights_dir=tmp_path).label == "mobilenet pro"
    )


def test_model_and_version_options_narrow_the_choice(tmp_path: Path) -> None:
    for key in WEIGHT_FILES:
        touch_full(tmp_path, *key)
    assert select_model("fitness", version="lite", weights_dir=tmp_path).label == "mobilenet lite"
    assert (
        select_model("fitness", model="efficientnet", weights_dir=tmp_path).label
        == "efficientnet pro"
    )
    chosen = select_model("calories", "efficientnet", "lite", weights_dir=tmp_path)
    assert chosen.label == "efficientnet lite"
    assert chosen.heads == {"met": tmp_path / "calorie_estimation/sien_lite_met_converter.ckpt"}


@pytest.mark.parametrize(
    ("task", "model", "version", "message"),
    [
        ("reps", "mobilenet", None, "reps has no mobilenet model: it runs on efficientnet pro"),
        ("reps", None, "lite", "reps has no lite model"),
        ("yoga", None, None, "unknown task 'yoga'"),
        ("fitness", "resnet", None, "unknown model 'resnet'"),
        ("fitness", None, "max", "unknown version 'max'"),
    ],
)
def test_impossible_choices_are_config_errors(
    tmp_path: Path, task: str, model: str | None, version: str | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        select_model(task, model, version, weights_dir=tmp_path)  # type: ignore[arg-type]


def test_tasks_table_runs_the_documented_heads() -> None:
    assert {task: spec.heads for task, spec in TASKS.items()} == {
        "fitness": ("fitness", "met"),
        "calories": ("met",),
        "gestures": ("gestures",),
        "reps": ("reps",),
    }


# --- both layouts --------------------------------------------------------------------------


def test_first_release_layout_is_found_and_loads(standin_weights_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    renames = {
        SIEN: "strided_inflated_efficientnet.ckpt",
        SIMN: "strided_inflated_mobilenet.ckpt",
        GESTURES_SIEN: "gesture_detection/efficientnet_logistic_regression.ckpt",
        FITNESS_SIMN: "fitness_activity_recognition/mobilenet_logistic_regression.ckpt",
        "calorie_estimation/simn_met_converter.ckpt": (
            "calorie_estimation/mobilenet_features_met_converter.ckpt"
        ),
    }
    for current, first in renames.items():
        (old / first).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(standin_weights_dir / current, old / first)
    fitness = select_model("fitness", weights_dir=old)
    assert fitness.label == "mobilenet pro"
    assert fitness.backbone == old / "strided_inflated_mobilenet.ckpt"
    assert fitness.heads["met"] == old / renames["calorie_estimation/simn_met_converter.ckpt"]
    gestures = select_model("gestures", weights_dir=old)
    assert gestures.heads["gestures"] == old / renames[GESTURES_SIEN]
    build_backbone("efficientnet", gestures.backbone)
    build_head("gestures", gestures.heads["gestures"])


def test_current_layout_selects_the_reference_files(standin_weights_dir: Path) -> None:
    fitness = select_model("fitness", weights_dir=standin_weights_dir)
    assert fitness.backbone == standin_weights_dir / SIMN
    assert fitness.heads == {
        "fitness": standin_weights_dir / FITNESS_SIMN,
        "met": standin_weights_dir / "calorie_estimation/simn_met_converter.ckpt",
    }
    reps = select_model("reps", weights_dir=standin_weights_dir)
    assert reps.heads == {"reps": standin_weights_dir / "fitness_rep_counting/sien_logreg.ckpt"}


# --- loading failures ----------------------------------------------------------------------


def test_missing_weights_message_lists_files_folders_and_where_to_get_them(
    isolated_dirs: Path,
) -> None:
    with pytest.raises(WeightsError) as caught:
        select_model("reps")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        "no SenseKit weights for reps found: looked for efficientnet pro: "
        "backbone/strided_inflated_efficientnet.ckpt or strided_inflated_efficientnet.ckpt, "
        f"fitness_rep_counting/sien_logreg.ckpt in {isolated_dirs / 'resources'} (./resources, "
        f"does not exist) and {user_weights_dir()} (user data dir, does not exist) -- "
    )
    assert "original publisher" in message
    assert f"keeping their folder layout, in {user_weights_dir()} (or ./resources)" in message
    assert "rtnet weights install PATH" in message


def test_missing_weights_message_points_at_what_runs_without_them(isolated_dirs: Path) -> None:
    """Without the SenseKit weights a user can still run the built-in pose models, or train a
    classifier on the built-in backbone and run it: the error says how, on the same line."""
    with pytest.raises(WeightsError) as caught:
        select_model("gestures")
    message = str(caught.value)
    assert "\n" not in message
    assert message.endswith(
        "or, without them, track body and hands with the built-in models (`rtnet pose`), or "
        "train your own classifier on the built-in lite0 backbone (`rtnet train DATASET`) and "
        "run it with `rtnet run --classifier DIR`"
    )


def test_missing_weights_message_says_what_each_folder_lacks(isolated_dirs: Path) -> None:
    touch_model(isolated_dirs / "resources", "efficientnet", "pro", ("backbone",))
    user_weights_dir().mkdir(parents=True)
    with pytest.raises(WeightsError) as caught:
        select_model("reps")
    message = str(caught.value)
    assert (
        f"{isolated_dirs / 'resources'} (./resources, lacks efficientnet pro: "
        "fitness_rep_counting/sien_logreg.ckpt) and "
        f"{user_weights_dir()} (user data dir, holds none of them)"
    ) in message


def test_missing_weights_message_names_every_candidate_and_both_names(tmp_path: Path) -> None:
    touch_model(tmp_path, "mobilenet", "pro", ("gestures",))
    with pytest.raises(WeightsError) as caught:
        select_model("gestures", version="pro", weights_dir=tmp_path)
    message = str(caught.value)
    sien = {
        kind: " or ".join(names) for kind, names in WEIGHT_FILES[("efficientnet", "pro")].items()
    }
    simn_backbone = "backbone/strided_inflated_mobilenet.ckpt or strided_inflated_mobilenet.ckpt"
    assert sien["gestures"] == (
        "gesture_recognition/sien_logreg.ckpt or "
        "gesture_detection/efficientnet_logistic_regression.ckpt"
    )
    assert (
        f"looked for efficientnet pro: {sien['backbone']}, {sien['gestures']}; "
        f"mobilenet pro: {simn_backbone}, gesture_recognition/simn_logreg.ckpt in "
    ) in message
    assert (
        f"{tmp_path} (--weights-dir, lacks efficientnet pro: {sien['backbone']}, "
        f"{sien['gestures']}; mobilenet pro: {simn_backbone})"
    ) in message
    assert "lite" not in message.split(" -- ")[0]  # only the pro models were asked for
    assert f"keeping their folder layout, in {tmp_path}; or, without them, " in message


def test_missing_single_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "backbone" / "strided_inflated_mobilenet.ckpt"
    with pytest.raises(WeightsError, match=rf"^{path}: mobilenet backbone weights file not found"):
        build_backbone("mobilenet", path)


@pytest.mark.parametrize("keep", [0, 30, 0.5], ids=["empty", "header", "half"])
@pytest.mark.parametrize("zip_format", [False, True], ids=["legacy", "zip"])
def test_truncated_checkpoint_is_reported_as_such(
    standin_weights_dir: Path, tmp_path: Path, keep: float, zip_format: bool
) -> None:
    state = torch.load(standin_weights_dir / GESTURES_SIEN, weights_only=True)
    buffer = io.BytesIO()
    torch.save(state, buffer, _use_new_zipfile_serialization=zip_format)
    data = buffer.getvalue()
    path = tmp_path / "sien_logreg.ckpt"
    path.write_bytes(data[: int(keep * len(data)) if isinstance(keep, float) else keep])
    with pytest.raises(WeightsError, match=rf"^{path}: .*(truncated or corrupt|corrupt)"):
        build_head("gestures", path)


@pytest.mark.parametrize(
    "content", [b"<html>404 Not Found</html>", bytes(range(256)) * 8], ids=["html", "binary"]
)
def test_a_file_that_is_no_checkpoint_is_reported(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "strided_inflated_efficientnet.ckpt"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match=rf"^{path}: .*corrupt"):
        build_backbone("efficientnet", path)


def test_pickled_code_is_refused_not_run(tmp_path: Path) -> None:
    import pickle

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("this must never run",))

    path = tmp_path / "sien_logreg.ckpt"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(WeightsError, match=rf"^{path}: not a PyTorch weights file"):
        load_checkpoint(path, "gestures")


def test_something_else_than_a_state_dict_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "simn_met_converter.ckpt"
    torch.save([torch.zeros(3)], path)
    with pytest.raises(WeightsError, match=rf"^{path}: holds list, not a state dict"):
        load_checkpoint(path, "met")


@pytest.mark.parametrize("zip_format", [False, True], ids=["legacy", "zip"])
def test_wrong_network_says_what_the_file_looks_like(
    standin_weights_dir: Path, tmp_path: Path, zip_format: bool
) -> None:
    path = tmp_path / "strided_inflated_efficientnet.ckpt"
    state = torch.load(standin_weights_dir / SIMN, weights_only=True)
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    with pytest.raises(WeightsError) as caught:
        build_backbone("efficientnet", path)
    assert str(caught.value) == (
        f"{path}: expected efficientnet backbone weights, but these are mobilenet backbone "
        "weights (a file in the wrong place?)"
    )


def test_head_of_another_task_is_recognised(standin_weights_dir: Path) -> None:
    path = standin_weights_dir / FITNESS_SIMN
    with pytest.raises(
        WeightsError,
        match="expected gestures classifier head weights, but these "
        "are fitness classifier head weights",
    ):
        build_head("gestures", path)
    with pytest.raises(
        WeightsError,
        match="expected efficientnet backbone weights, but these are fitness classifier head",
    ):
        load_checkpoint(path, "efficientnet")


def test_unknown_network_names_the_first_difference(
    standin_weights_dir: Path, tmp_path: Path
) -> None:
    state = torch.load(standin_weights_dir / GESTURES_SIEN, weights_only=True)
    path = tmp_path / "odd.ckpt"
    torch.save({"0.weight": state["0.weight"][:, :640], "0.bias": state["0.bias"]}, path)
    with pytest.raises(
        WeightsError,
        match=r"not gestures classifier head weights \(0\.weight has "
        r"shape \[30, 640\], expected \[30, 1280\]\)",
    ):
        load_checkpoint(path, "gestures")
    torch.save({"module.0.weight": state["0.weight"], "0.bias": state["0.bias"]}, path)
    with pytest.raises(
        WeightsError,
        match=r"1 keys missing, e\.g\. 0\.weight; 1 unexpected keys, e\.g\. module\.0\.weight",
    ):
        load_checkpoint(path, "gestures")


# --- report --------------------------------------------------------------------------------


def test_report_lists_every_file_with_its_status(standin_weights_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "w"
    shutil.copytree(standin_weights_dir, root)
    (root / FITNESS_SIMN).write_bytes(b"broken")
    rows = {(r.model, r.version, r.kind): r for r in weights_report(root)}
    assert len(rows) == sum(len(kinds) for kinds in WEIGHT_FILES.values())
    assert rows[("efficientnet", "pro", "backbone")].ok
    assert rows[("efficientnet", "pro", "backbone")].size == (root / SIEN).stat().st_size
    assert rows[("efficientnet", "pro", "reps")].tasks == ("reps",)
    assert rows[("mobilenet", "pro", "backbone")].tasks == ("fitness", "calories", "gestures")
    broken = rows[("mobilenet", "pro", "fitness")]
    assert broken.path == root / FITNESS_SIMN and "corrupt" in (broken.problem or "")
    assert rows[("mobilenet", "lite", "backbone")].path is None

    console = Console(record=True, width=400)
    print_report(root, console=console)
    text = console.export_text()
    assert "(--weights-dir)" in text
    assert "missing" in text and "found" in text and "no: not a PyTorch weights file" in text
    assert str(root / SIEN) in text
    assert f"mobilenet pro (does not load: {root / FITNESS_SIMN})" in text  # the fitness task
    assert "no complete model" not in text
    shutil.rmtree(root / "fitness_rep_counting")
    console = Console(record=True, width=400)
    print_report(root, console=console, check=False)
    text = console.export_text()
    # Without its SenseKit files, reps falls back to the built-in pose models.
    reps = next(line for line in text.splitlines() if line.lstrip().startswith("reps "))
    assert "pose (built-in; no SenseKit model found)" in reps and "not checked" in text


# --- install -------------------------------------------------------------------------------


def installed_files(root: Path) -> set[str]:
    return (
        {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
        if root.exists()
        else set()
    )


def source_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.ckpt")}


def test_install_from_a_folder_into_the_user_data_dir(standin_weights_dir: Path) -> None:
    result = install(standin_weights_dir)
    target = user_weights_dir()
    assert installed_files(target) == source_files(standin_weights_dir)
    assert sorted(result.installed) == sorted(
        target / name for name in source_files(standin_weights_dir)
    )
    assert (target / SIEN).read_bytes() == (standin_weights_dir / SIEN).read_bytes()
    # The default search finds them there.
    assert select_model("gestures").backbone == target / SIEN


def test_install_from_a_zip_with_a_top_folder(standin_weights_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "sensekit.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for name in source_files(standin_weights_dir):
            out.write(standin_weights_dir / name, f"resources/{name}")
        out.writestr("resources/README.txt", "not weights")
    dest = tmp_path / "dest"
    result = install(archive, dest)
    assert installed_files(dest) == source_files(standin_weights_dir)
    assert result.ignored == ["resources/README.txt"]
    assert (dest / SIMN).read_bytes() == (standin_weights_dir / SIMN).read_bytes()


@pytest.mark.parametrize("problem", ["truncated", "wrong network"])
def test_a_zip_with_a_bad_file_installs_nothing(
    standin_weights_dir: Path, tmp_path: Path, problem: str
) -> None:
    archive = tmp_path / "sensekit.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for name in sorted(source_files(standin_weights_dir)):
            data = (standin_weights_dir / name).read_bytes()
            if name == GESTURES_SIEN:
                data = (
                    data[: len(data) // 2]
                    if problem == "truncated"
                    else (standin_weights_dir / FITNESS_SIMN).read_bytes()
                )
            out.writestr(name, data)
    target = user_weights_dir()
    with pytest.raises(WeightsError) as caught:
        install(archive)
    message = str(caught.value)
    assert message.startswith(f"{archive}: {GESTURES_SIEN}: ")
    assert message.endswith("nothing installed")
    assert (
        "truncated or corrupt" if problem == "truncated" else "fitness classifier head"
    ) in message
    assert installed_files(target) == set()
    assert not target.exists()


def test_a_bad_file_keeps_a_previous_install_intact(
    standin_weights_dir: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    install(standin_weights_dir, dest)
    before = {name: (dest / name).read_bytes() for name in installed_files(dest)}
    bad = tmp_path / "bad"
    (bad / "backbone").mkdir(parents=True)
    shutil.copyfile(
        standin_weights_dir / SIEN, bad / SIMN
    )  # efficientnet weights under mobilenet's name
    with pytest.raises(
        WeightsError, match="expected mobilenet backbone weights, but these are efficientnet"
    ):
        install(bad, dest)
    assert {name: (dest / name).read_bytes() for name in installed_files(dest)} == before


def test_install_refuses_sources_without_weights(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsError, match="no SenseKit weight files in it"):
        install(tmp_path / "empty", tmp_path / "dest")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(WeightsError, match=r"neither a folder nor a \.zip file"):
        install(tmp_path / "notes.txt", tmp_path / "dest")
    with pytest.raises(WeightsError, match=r"no such folder or \.zip file"):
        install(tmp_path / "nowhere", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


# --- install: all or nothing, one error line ---------------------------------------------


def previous_install(standin_weights_dir: Path, dest: Path) -> dict[str, bytes]:
    """``dest`` holding an earlier install of two files, with other content than the source's."""
    for name, other in ((SIMN, SIEN), (FITNESS_SIMN, FITNESS_SIMN)):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(standin_weights_dir / other, dest / name)
    return {name: (dest / name).read_bytes() for name in installed_files(dest)}


def test_a_file_where_a_folder_must_go_installs_nothing(
    standin_weights_dir: Path, tmp_path: Path
) -> None:
    """It used to install the files sorted before it, then end in an internal error."""
    dest = tmp_path / "dest"
    before = previous_install(standin_weights_dir, dest)
    (dest / "gesture_recognition").write_text("a file where a folder must go")
    before["gesture_recognition"] = (dest / "gesture_recognition").read_bytes()
    result = rtnet("weights", "install", str(standin_weights_dir), "--dest", str(dest))
    assert_one_line_error(
        result, rf"{dest / 'gesture_recognition'} is a file where a folder must go.*nothing"
    )
    assert {name: (dest / name).read_bytes() for name in installed_files(dest)} == before


def test_a_failure_while_moving_puts_every_file_back(
    standin_weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rename that fails midway (a full or failing disk) undoes the renames before it."""
    # The module, not the function the package exports under the same name.
    install_module = importlib.import_module("rtnet.weights.install")
    dest = tmp_path / "dest"
    before = previous_install(standin_weights_dir, dest)
    real_replace = os.replace
    calls = []

    def failing_replace(src: str | Path, dst: str | Path) -> None:
        calls.append(dst)
        if len(calls) == 4:
            raise OSError(errno.EIO, "Input/output error", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(install_module.os, "replace", failing_replace)
    with pytest.raises(WeightsError) as caught:
        install(standin_weights_dir, dest)
    message = str(caught.value)
    assert message.startswith(f"{dest}: cannot install there: Input/output error (")
    assert message.endswith("nothing installed") and "\n" not in message
    assert len(calls) > 4  # the three files moved before were put back
    assert {name: (dest / name).read_bytes() for name in installed_files(dest)} == before


def test_dest_that_is_a_file_is_one_error_line(standin_weights_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "weights.txt"
    dest.write_text("not a folder")
    result = rtnet("weights", "install", str(standin_weights_dir), "--dest", str(dest))
    assert_one_line_error(result, rf"{dest}: cannot install there: {dest} is a file, not a folder")
    result = rtnet("weights", "install", str(standin_weights_dir), "--dest", str(dest / "sub"))
    assert_one_line_error(result, rf"{dest} is a file, not a folder")
    assert dest.read_text() == "not a folder"


def test_dest_on_a_read_only_filesystem_is_one_error_line(
    standin_weights_dir: Path, tmp_path: Path
) -> None:
    """A read-only bind mount in a private mount namespace (root cannot be kept out by modes)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    command = " ".join(
        shlex.quote(part)
        for part in rtnet_command(
            "weights", "install", str(standin_weights_dir), "--dest", str(folder / "weights")
        )
    )
    script = (
        f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && exec {command}"
    )
    result = subprocess.run(
        ["unshare", "--mount", "--map-root-user", "sh", "-c", script],
        capture_output=True,
        text=True,
        env=rtnet_env(),
        timeout=180,
    )
    assert_one_line_error(
        result, rf"{folder / 'weights'}: cannot install there: Read-only file system"
    )
    assert list(folder.iterdir()) == []


def damaged_zip(standin_weights_dir: Path, path: Path, damage: str) -> Path:
    """The reference files in a zip, the gestures head damaged as ``damage`` says."""
    compression = zipfile.ZIP_DEFLATED if damage == "deflate" else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=compression) as out:
        for name in sorted(source_files(standin_weights_dir)):
            out.write(standin_weights_dir / name, name)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(GESTURES_SIEN)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    if damage == "encrypted":  # the "encrypted" flag, in the local and the central header
        data[info.header_offset + 6] |= 1
        central = data.rfind(b"PK\x01\x02", 0, data.rfind(GESTURES_SIEN.encode()))
        data[central + 8] |= 1
    elif damage == "crc":
        data[start + 1000] ^= 0xFF
    else:  # a deflate block of a type that does not exist
        data[start : start + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("encrypted", "it is encrypted: unpack the archive with its password"),
        ("crc", "Bad CRC-32"),
        ("deflate", "corrupt compressed data"),
    ],
)
def test_a_zip_member_that_cannot_be_extracted_is_one_error_line(
    standin_weights_dir: Path, tmp_path: Path, damage: str, reason: str
) -> None:
    archive = damaged_zip(standin_weights_dir, tmp_path / "sensekit.zip", damage)
    dest = tmp_path / "dest"
    result = rtnet("weights", "install", str(archive), "--dest", str(dest))
    line = assert_one_line_error(
        result, rf"{archive}: {GESTURES_SIEN}: cannot extract it \(.*{reason}"
    )
    assert line.endswith("nothing installed")
    assert not dest.exists()


def test_a_zip_with_a_name_twice_is_refused(standin_weights_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "sensekit.zip"
    with zipfile.ZipFile(archive, "w") as out, pytest.warns(UserWarning, match="Duplicate"):
        for name in sorted(source_files(standin_weights_dir)):
            out.write(standin_weights_dir / name, name)
        out.write(standin_weights_dir / FITNESS_SIMN, GESTURES_SIEN)
    with pytest.raises(WeightsError, match=rf"^{archive}: holds {GESTURES_SIEN} more than once"):
        install(archive, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


# --- NaN weights ----------------------------------------------------------------------------


def test_a_nan_head_in_the_weights_folder_is_one_error_line(
    standin_weights_dir: Path, tmp_path: Path, reference_dir: Path
) -> None:
    """Right shapes, NaN values: it used to load, write bare NaN to the JSONL and end in an
    internal error."""
    root = Path(shutil.copytree(standin_weights_dir, tmp_path / "w"))
    met = root / "calorie_estimation/simn_met_converter.ckpt"
    state = torch.load(met, weights_only=True)
    state["met_regressor.2.bias"] = torch.full_like(state["met_regressor.2.bias"], float("nan"))
    torch.save(state, met)
    jsonl = tmp_path / "out.jsonl"
    result = rtnet(
        "fitness",
        "--path-in",
        str(reference_dir / "video.mkv"),
        "--weights-dir",
        str(root),
        "--jsonl",
        str(jsonl),
        "--no-window",
        "--quiet",
    )
    assert_one_line_error(
        result, rf"{met}: met_regressor\.2\.bias holds 1 NaN or infinite values of 1"
    )
    assert not jsonl.exists() or "NaN" not in jsonl.read_text()


# --- report ---------------------------------------------------------------------------------


def test_report_is_readable_at_80_columns(standin_weights_dir: Path, tmp_path: Path) -> None:
    """Names never break inside a word (it printed `efficien│tnet`), nothing is cut off."""
    root = Path(shutil.copytree(standin_weights_dir, tmp_path / "w"))
    (root / FITNESS_SIMN).write_bytes(b"broken")
    console = Console(record=True, width=80)
    print_report(root, console=console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    rows = re.findall(
        r"^ ?(efficientnet|mobilenet) (pro|lite) +(backbone|fitness|gestures|met|reps) ",
        text,
        re.MULTILINE,
    )
    assert len(rows) == sum(len(kinds) for kinds in WEIGHT_FILES.values())
    assert re.search(r"^ ?lite0 +ImageNet EfficientNet-Lite0 ", text, re.MULTILINE)
    assert re.search(r"^ ?fitness +mobilenet pro \(does not load:", text, re.MULTILINE)
    assert re.search(r" no: not a +\n", text)  # the problem wraps at words


def test_rtnet_weights_lists_the_built_in_landmark_models(tmp_path: Path) -> None:
    from rich.console import Console

    from rtnet.weights import print_report

    console = Console(record=True, width=300)
    print_report(tmp_path, console=console)  # no SenseKit weights in tmp_path
    text = console.export_text()
    assert "Built-in landmark models" in text
    for name in ("pose_detector", "pose_landmarks", "palm_detector", "hand_landmarks"):
        row = next(line for line in text.splitlines() if line.lstrip().startswith(name))
        assert "MediaPipe 0.10.14" in row and "found" in row and row.rstrip().endswith("yes")
    # Without SenseKit files the exercise apps and gestures run on the built-in pose models.
    fitness = next(line for line in text.splitlines() if line.lstrip().startswith("fitness "))
    gestures = next(line for line in text.splitlines() if line.lstrip().startswith("gestures "))
    assert "pose (built-in" in fitness and "pose (built-in" in gestures
