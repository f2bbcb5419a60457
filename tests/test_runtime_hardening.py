"""Outputs under hostile conditions: a full disk or a file size limit, a reader that goes away,
NaN results, outputs naming the same file, a hostile input file. Each ends with whole outputs
and, for an error, one `rtnet: error:` line and status 2.

Write errors are real: the runs happen in a child process under RLIMIT_FSIZE (with SIGXFSZ
ignored, a write past the limit fails with EFBIG, as on a full disk it fails with ENOSPC),
which needs neither root nor a special file system.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine_helpers import (
    assert_one_line_error,
    read_video,
    rtnet_command,
    rtnet_env,
    run_rtnet,
    write_slow_avi,
)
from rtnet.sinks.jsonl import json_line


def limit_file_size(limit: int) -> None:
    """In the child: writes past ``limit`` bytes fail with EFBIG instead of killing it."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def run_limited(
    limit: int, *args: str, history: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    env = rtnet_env()
    env["RTNET_HISTORY"] = str(history)
    # The workout history (a database of its own) would hit the limit first: this tests the
    # outputs named on the command line.
    return subprocess.run(
        rtnet_command(*args, "--no-history"),
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        preexec_fn=lambda: limit_file_size(limit),
    )


def gestures_args(reference_dir: Path, weights: Path, *extra: str) -> list[str]:
    video = str(reference_dir / "video.mkv")
    args = ["gestures", "--path-in", video, "--no-window", "--quiet", "--weights-dir", str(weights)]
    return args + list(extra)


class TestJsonl:
    def test_non_finite_numbers_become_null(self) -> None:
        """NaN weights gave bare `NaN` in every line: not JSON (JSON.parse rejects it)."""
        record = {"step": 0, "probs": [0.5, float("nan")], "met": float("inf"), "top": None}
        line = json_line(record)
        assert line.endswith("\n") and line.count("\n") == 1
        assert "NaN" not in line and "Infinity" not in line
        assert json.loads(line) == {"step": 0, "probs": [0.5, None], "met": None, "top": None}

    def test_a_failing_write_leaves_only_whole_lines(self, tmp_path: Path) -> None:
        """The sink alone, in a child limited to 1000 bytes: the third line does not fit."""
        script = """
import sys
from types import SimpleNamespace
from rtnet.errors import OutputError
from rtnet.sinks.base import RunStats
from rtnet.sinks.jsonl import JsonlSink

sink = JsonlSink(sys.argv[1])
stats = RunStats("test", live=False)
sink.start(stats)
try:
    for step in range(100):
        sink.on_step(SimpleNamespace(record={"step": step, "pad": "x" * 400}), stats)
except OutputError as err:
    print(err)
"""
        out = tmp_path / "out.jsonl"
        result = subprocess.run(
            [sys.executable, "-c", script, str(out)],
            capture_output=True,
            text=True,
            preexec_fn=lambda: limit_file_size(1000),
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"cannot write JSONL file {out}: file too large")
        text = out.read_text()
        assert text.endswith("\n")
        assert [json.loads(line)["step"] for line in text.splitlines()] == [0, 1]

    def test_disk_full_is_one_error_line(
        self, reference_dir: Path, standin_weights_dir: Path, tmp_path: Path
    ) -> None:
        """Exit 1 "internal error" and a cut-off last line before."""
        out = tmp_path / "out.jsonl"
        args = gestures_args(reference_dir, standin_weights_dir, "--jsonl", str(out))
        result = run_limited(3000, *args, history=tmp_path / "h.sqlite3")
        assert_one_line_error(result, r"cannot write JSONL file .*out\.jsonl: file too large")
        text = out.read_text()
        assert text.endswith("\n")
        records = [json.loads(line) for line in text.splitlines()]
        assert 1 <= len(records) < 16 and len(text) <= 3000

    def test_a_reader_going_away_ends_the_run_quietly(
        self, reference_dir: Path, standin_weights_dir: Path, tmp_path: Path
    ) -> None:
        """`--jsonl - | head -1`: no traceback, no error line; the status a shell gives a tool
        ended by SIGPIPE (141); the other outputs are complete."""
        video = tmp_path / "out.mp4"
        args = gestures_args(reference_dir, standin_weights_dir, "--jsonl", "-")
        env = rtnet_env()
        env["RTNET_HISTORY"] = str(tmp_path / "h.sqlite3")
        process = subprocess.Popen(
            rtnet_command(*args, "--path-out", str(video)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert process.stdout is not None and process.stderr is not None
        first = json.loads(process.stdout.readline())
        process.stdout.close()  # what `head -1` does after its line
        err = process.stderr.read()
        process.wait(timeout=60)
        assert first["step"] == 0
        assert process.returncode == 141, err
        assert err == ""
        assert len(read_video(video)) >= 4


class TestVideo:
    def test_disk_full_is_one_error_line(
        self, reference_dir: Path, standin_weights_dir: Path, tmp_path: Path
    ) -> None:
        """Exit 0, nothing printed and an unplayable file before."""
        out = tmp_path / "out.mp4"
        args = gestures_args(reference_dir, standin_weights_dir, "--path-out", str(out))
        result = run_limited(100_000, *args, history=tmp_path / "h.sqlite3")
        assert_one_line_error(
            result, r"cannot write video .*out\.mp4: 64 frames written but the file cannot be"
        )


class TestOutputsCollide:
    @pytest.mark.parametrize("names", [("out.mp4", "out.mp4"), ("./out.mp4", "out.mp4")])
    def test_jsonl_and_video_naming_one_file(
        self, reference_dir: Path, tmp_path: Path, names: tuple[str, str]
    ) -> None:
        jsonl, video = names
        source = str(reference_dir / "video.mkv")
        args = ["--no-window", "--quiet", "--jsonl", jsonl, "--path-out", video]
        result = run_rtnet("gestures", "--path-in", source, *args, cwd=tmp_path)
        assert_one_line_error(result, r"--jsonl and --path-out name the same file .*out\.mp4")
        assert not (tmp_path / "out.mp4").exists()

    @pytest.mark.parametrize("option", ["--jsonl", "--path-out"])
    def test_an_output_naming_the_input_through_a_hard_link(
        self, reference_dir: Path, tmp_path: Path, option: str
    ) -> None:
        source = tmp_path / "in.mkv"
        source.write_bytes((reference_dir / "video.mkv").read_bytes())
        (tmp_path / "link.mkv").hardlink_to(source)
        args = ["--path-in", str(source), "--no-window", "--quiet", option, "link.mkv"]
        result = run_rtnet("gestures", *args, cwd=tmp_path)
        assert_one_line_error(result, rf"{option} link\.mkv would overwrite the input video")


def test_a_file_claiming_a_billionth_of_a_frame_per_second(
    standin_weights_dir: Path, tmp_path: Path
) -> None:
    """A 3-frame AVI whose header says 1e-9 fps made memory grow by 100 MB/s."""
    video = write_slow_avi(tmp_path / "slow.avi")
    args = ["--path-in", str(video), "--no-window", "--quiet", "--weights-dir"]
    args.append(str(standin_weights_dir))
    result = run_rtnet("gestures", *args, "--jsonl", str(tmp_path / "out.jsonl"), timeout=60)
    assert_one_line_error(result, r"slow\.avi claims 1e-09 frames per second \(below 1\)")
