"""Reading a state dict from a file: the one place rtnet calls ``torch.load``.

Every weight file rtnet reads (SenseKit backbones and heads, the packaged lite0 weights, custom
classifiers) goes through :func:`load_state_dict`, so each gets the same checks, and each problem
is one WeightsError naming the file: missing, truncated or corrupt, pickled code (refused, never
run), not a flat mapping of names to tensors, keys or shapes of another network, NaN or infinite
values (a head of NaNs loads and then makes every output NaN).
"""

from __future__ import annotations

import pickle
import struct
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from rtnet.errors import WeightsError

# State-dict keys and shapes, in the network's order.
Signature = tuple[tuple[str, tuple[int, ...]], ...]

# What torch.load raises on a cut or damaged file (legacy and zip formats).
_DAMAGED = (EOFError, RuntimeError, ValueError, struct.error, zipfile.BadZipFile, OSError)


def signature_of(module: nn.Module) -> Signature:
    """The keys and shapes of ``module``'s state dict (build it on the meta device: no memory)."""
    return tuple((key, tuple(value.shape)) for key, value in module.state_dict().items())


def load_state_dict(
    path: str | Path,
    expected: Signature | None = None,
    *,
    what: str = "weights",
    remedy: str = "download it again",
    look_alikes: Mapping[str, Signature] | None = None,
) -> dict[str, Tensor]:
    """The state dict in ``path``, checked.

    ``expected``: the keys and shapes it must have (None: any). ``what`` names the content in
    messages ("mobilenet backbone weights"), ``remedy`` says what to do about a bad file, and
    ``look_alikes`` (description -> signature) recognises a file of another kind that was put in
    the wrong place.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: {what} file not found -- {remedy}")
    state = _read(path, what, remedy)
    if expected is not None:
        _check_signature(path, state, expected, what, look_alikes or {})
    _check_finite(path, state, what, remedy)
    return state


def _read(path: Path, what: str, remedy: str) -> dict[str, Tensor]:
    if path.suffix == ".safetensors":
        return _read_safetensors(path, what, remedy)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pickle-protocol chatter from the restricted unpickler
            state = torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError:
        raise WeightsError(f"{path}: cannot read the {what}: permission denied") from None
    except pickle.UnpicklingError as err:
        # The restricted unpickler refuses anything but plain tensors and containers.
        raise WeightsError(
            f"{path}: not a PyTorch weights file, or corrupt ({type(err).__name__}) -- {remedy}"
        ) from None
    except _DAMAGED as err:
        raise WeightsError(
            f"{path}: cannot read the {what}, the file is truncated or corrupt "
            f"({type(err).__name__}) -- {remedy}"
        ) from None
    except Exception as err:  # anything else torch.load raises on a foreign file
        raise WeightsError(
            f"{path}: not a PyTorch weights file, or corrupt ({type(err).__name__}) -- {remedy}"
        ) from None
    if not isinstance(state, Mapping) or not all(
        isinstance(key, str) and isinstance(value, Tensor) for key, value in state.items()
    ):
        raise WeightsError(f"{path}: holds {type(state).__name__}, not a state dict of tensors")
    return dict(state)


def _read_safetensors(path: Path, what: str, remedy: str) -> dict[str, Tensor]:
    """The built-in landmark models ship as safetensors: plain tensors, nothing to unpickle."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path)
    except PermissionError:
        raise WeightsError(f"{path}: cannot read the {what}: permission denied") from None
    except (OSError, SafetensorError) as err:
        raise WeightsError(
            f"{path}: cannot read the {what}, the file is truncated or corrupt ({err}) -- {remedy}"
        ) from None


def _check_signature(
    path: Path,
    state: Mapping[str, Tensor],
    expected: Signature,
    what: str,
    look_alikes: Mapping[str, Signature],
) -> None:
    actual = tuple((key, tuple(value.shape)) for key, value in state.items())
    if sorted(actual) == sorted(expected):
        return
    look_alike = next(
        (name for name, other in look_alikes.items() if sorted(other) == sorted(actual)), None
    )
    if look_alike is not None:
        raise WeightsError(
            f"{path}: expected {what}, but these are {look_alike} (a file in the wrong place?)"
        )
    raise WeightsError(f"{path}: not {what} ({_first_difference(dict(expected), dict(actual))})")


def _first_difference(
    expected: dict[str, tuple[int, ...]], actual: dict[str, tuple[int, ...]]
) -> str:
    missing = [key for key in expected if key not in actual]
    unexpected = [key for key in actual if key not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} keys missing, e.g. {missing[0]}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys, e.g. {unexpected[0]}")
        return "; ".join(parts)
    key = next(key for key in expected if expected[key] != actual[key])
    return f"{key} has shape {list(actual[key])}, expected {list(expected[key])}"


def _check_finite(path: Path, state: Mapping[str, Tensor], what: str, remedy: str) -> None:
    for key, value in state.items():
        if value.is_floating_point() or value.is_complex():
            bad = int((~torch.isfinite(value)).sum())
            if bad:
                raise WeightsError(
                    f"{path}: {key} holds {bad} NaN or infinite values of {value.numel()}: "
                    f"not usable {what} -- {remedy}"
                )
