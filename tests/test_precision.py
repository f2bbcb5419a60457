"""``--precision auto``: the decision from measurements, the measurement itself (on a fake clock),
the per-machine cache, and the CLI default. Nothing here is timed for real."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from rtnet.cli import build_parser
from rtnet.precision import (
    CACHE_FORMAT,
    Measurement,
    Precision,
    PrecisionCache,
    cache_key,
    choose_precision,
    decide,
    machine_fingerprint,
    measure,
)

AGREEING = {"max_diff": 0.003, "top1_agreement": 1.0}


def test_bf16_slower_keeps_fp32_and_says_by_how_much() -> None:
    choice = decide(Measurement(fp32_ms=66.0, bf16_ms=78.0, **AGREEING))
    assert choice.precision == "fp32"
    assert choice.reason == "precision: fp32 (auto: bf16 1.2x slower here)"


def test_bf16_faster_and_agreeing_is_chosen() -> None:
    choice = decide(Measurement(fp32_ms=66.0, bf16_ms=44.0, **AGREEING))
    assert choice.precision == "bf16"
    assert choice.reason.startswith("precision: bf16 (auto: 1.5x faster than fp32 here")


def test_bf16_barely_faster_is_not_worth_it() -> None:
    assert decide(Measurement(fp32_ms=66.0, bf16_ms=64.0, **AGREEING)).precision == "fp32"


@pytest.mark.parametrize(
    ("max_diff", "top1"), [(0.2, 1.0), (0.003, 0.8)], ids=["features", "top-1"]
)
def test_bf16_faster_but_disagreeing_keeps_fp32(max_diff: float, top1: float) -> None:
    choice = decide(Measurement(66.0, 30.0, max_diff=max_diff, top1_agreement=top1))
    assert choice.precision == "fp32"
    assert "faster but disagrees" in choice.reason


# -- measuring, on a fake clock ----------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake_networks(
    clock: FakeClock, ms: dict[str, float], noise: float
) -> Callable[[Precision], Callable[[torch.Tensor], torch.Tensor]]:
    """Networks that take ``ms[precision]`` of fake time; bf16 adds ``noise`` to the features."""

    def build(precision: Precision) -> Callable[[torch.Tensor], torch.Tensor]:
        def run(clip: torch.Tensor) -> torch.Tensor:
            clock.now += ms[precision] / 1e3
            features = clip.mean(dim=0, keepdim=True).repeat(1, 2, 1, 1)[:, :, :8, :8]
            return features + (noise if precision == "bf16" else 0.0)

        return run

    return build


def test_measure_times_each_precision_and_compares_features() -> None:
    clock = FakeClock()
    measured = measure(fake_networks(clock, {"fp32": 66.0, "bf16": 78.0}, 0.01), clock=clock)
    assert measured.fp32_ms == pytest.approx(66.0)
    assert measured.bf16_ms == pytest.approx(78.0)
    assert 0.0 < measured.max_diff < 0.02  # 0.01 over features of at most 1
    assert measured.top1_agreement == 1.0
    assert decide(measured).reason == "precision: fp32 (auto: bf16 1.2x slower here)"


# -- choosing, and the cache -------------------------------------------------------------------


def never_built(precision: Precision) -> Callable[[torch.Tensor], torch.Tensor]:
    raise AssertionError("measured although it should not be")


def test_explicit_precisions_are_kept_without_measuring(tmp_path: Path) -> None:
    cache = PrecisionCache(tmp_path / "precision.json")
    explicit: tuple[Precision, ...] = ("fp32", "bf16")
    for precision in explicit:
        choice = choose_precision(
            precision, model="m", build=never_built, bf16_native=True, cache=cache
        )
        assert choice.precision == precision
        assert choice.reason == f"precision: {precision} (--precision {precision})"
    no_bf16 = choose_precision("auto", model="m", build=never_built, bf16_native=False, cache=cache)
    assert no_bf16.reason == "precision: fp32 (auto: no native bf16 here)"
    assert not cache.path.exists()


def test_auto_measures_once_then_reads_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = PrecisionCache(tmp_path / "cache" / "precision.json")
    calls: list[Precision] = []
    fast_bf16 = Measurement(66.0, 40.0, **AGREEING)

    def fake_measure(build: object) -> Measurement:
        calls.append("fp32")
        return fast_bf16

    monkeypatch.setattr("rtnet.precision.measure", fake_measure)
    first = choose_precision(
        "auto", model="efficientnet pro", build=never_built, bf16_native=True, cache=cache
    )
    again = choose_precision(
        "auto", model="efficientnet pro", build=never_built, bf16_native=True, cache=cache
    )
    assert first == again and first.precision == "bf16"
    assert len(calls) == 1
    assert cache.get(cache_key("efficientnet pro")) == fast_bf16
    # Another model is measured on its own.
    choose_precision("auto", model="lite0", build=never_built, bf16_native=True, cache=cache)
    assert len(calls) == 2


def test_cache_round_trip_and_keys(tmp_path: Path) -> None:
    cache = PrecisionCache(tmp_path / "precision.json")
    measured = Measurement(66.0, 78.0, **AGREEING)
    cache.put(cache_key("lite0", machine="cpu A torch:2.5"), measured)
    assert cache.get(cache_key("lite0", machine="cpu A torch:2.5")) == measured
    # Another CPU or another torch is another key: measured again.
    assert cache.get(cache_key("lite0", machine="cpu A torch:2.6")) is None
    assert cache.get(cache_key("lite0", machine="cpu B torch:2.5")) is None
    assert torch.__version__ in machine_fingerprint()
    assert machine_fingerprint() in cache_key("lite0")


@pytest.mark.parametrize(
    "content",
    ["{not json", json.dumps({"format": CACHE_FORMAT + 1, "entries": {}}), "[]",
     json.dumps({"format": CACHE_FORMAT, "entries": {"k": {"fp32_ms": 1.0}}})],
    ids=["corrupt", "newer-format", "not-an-object", "old-fields"],
)  # fmt: skip
def test_an_unreadable_cache_is_empty_and_rewritten(tmp_path: Path, content: str) -> None:
    path = tmp_path / "precision.json"
    path.write_text(content)
    cache = PrecisionCache(path)
    assert cache.get("k") is None
    measured = Measurement(66.0, 78.0, **AGREEING)
    cache.put("k", measured)
    assert PrecisionCache(path).get("k") == measured


def test_an_unwritable_cache_costs_only_a_new_measurement(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = PrecisionCache(blocker / "precision.json")  # its folder is a file
    cache.put("k", Measurement(66.0, 78.0, **AGREEING))  # no exception
    assert cache.get("k") is None


# -- the CLI -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["gestures"], ["run", "--classifier", "x"], ["fitness"]])
def test_the_cli_default_is_auto(command: list[str]) -> None:
    parser = build_parser()
    assert parser.parse_args(command).precision == "auto"
    for precision in ("fp32", "bf16", "auto"):
        assert parser.parse_args([*command, "--precision", precision]).precision == precision
