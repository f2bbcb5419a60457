"""``rtnet weights install PATH``: copy the weight files of a folder or a .zip into place, all or
nothing.

Every recognised file is extracted to a staging folder inside the destination (same filesystem,
so moving is a rename) and validated there. Only when all are valid are they moved into place,
each with an atomic rename that replaces any previous file; a failure while moving puts every file
back as it was. Every problem is one WeightsError: the CLI prints one line and exits 2.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rtnet.errors import WeightsError
from rtnet.weights.catalogue import KNOWN_NAMES, WEIGHT_FILES, checkpoint_kind
from rtnet.weights.locate import user_weights_dir

# No SenseKit file comes near this: a larger member is not weights (a zip bomb fills the disk).
MAX_FILE_BYTES = 1 << 30
_CHUNK = 1 << 20
# What zipfile raises on a member it cannot extract: encrypted (RuntimeError), bad CRC or header
# (BadZipFile), a corrupt deflate stream (zlib.error), a cut stream (EOFError), an unsupported
# compression method (NotImplementedError).
_EXTRACT_ERRORS = (RuntimeError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)


@dataclass
class InstallResult:
    """What ``install`` did: files written (final paths) and files it did not recognise."""

    installed: list[Path] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def install(src: str | Path, dest: str | Path | None = None) -> InstallResult:
    """Copy the weight files of a folder or a .zip into ``dest`` (default: the user data dir).

    A bad file, or a destination that cannot take them, means nothing is installed and a
    previous install stays as it was.
    """
    src = Path(src).expanduser()
    target = Path(dest).expanduser() if dest is not None else user_weights_dir()
    with contextlib.ExitStack() as stack:
        members = _source_members(src, stack)
        result = InstallResult()
        chosen: dict[str, str] = {}  # known relative name -> member of the source
        for member in members:
            name = _recognise(member)
            if name is None:
                result.ignored.append(member)
            elif name in chosen:
                raise WeightsError(f"{src}: holds {name} twice ({chosen[name]} and {member})")
            else:
                chosen[name] = member
        if not chosen:
            example = WEIGHT_FILES[("efficientnet", "pro")]["backbone"][0]
            raise WeightsError(
                f"{src}: no SenseKit weight files in it (expected names like {example})"
            )
        _check_destination(target, chosen)
        try:
            result.installed = _stage_and_move(src, members, chosen, target, stack)
        except OSError as err:
            where = f" ({err.filename})" if err.filename else ""
            raise WeightsError(
                f"{target}: cannot install there: {err.strerror or err}{where}; nothing installed"
            ) from None
    return result


def _recognise(member: str) -> str | None:
    """The known relative name ``member`` ends with (longest match: the distribution may sit
    inside a top folder such as ``resources/``)."""
    matches = [name for name in KNOWN_NAMES if member == name or member.endswith("/" + name)]
    return max(matches, key=len) if matches else None


def _check_destination(target: Path, chosen: dict[str, str]) -> None:
    """Refuse, before anything is written, a destination whose layout cannot take the files: a
    file where a folder must go, or a folder where a file must go."""
    for path in (target, *target.parents):
        if path.exists() or path.is_symlink():
            if not path.is_dir():
                raise WeightsError(
                    f"{target}: cannot install there: {path} is a file, not a folder; "
                    "nothing installed"
                )
            break
    for name in chosen:
        final = target / name
        for parent in reversed(final.relative_to(target).parents[:-1]):
            folder = target / parent
            if folder.exists() and not folder.is_dir():
                raise WeightsError(
                    f"{target}: cannot install {name}: {folder} is a file where a folder must go; "
                    "nothing installed"
                )
        if final.is_dir():
            raise WeightsError(
                f"{target}: cannot install {name}: {final} is a folder where the file must go; "
                "nothing installed"
            )


def _stage_and_move(
    src: Path,
    members: dict[str, Callable[[], IO[bytes]]],
    chosen: dict[str, str],
    target: Path,
    stack: contextlib.ExitStack,
) -> list[Path]:
    from rtnet.models import load_checkpoint  # torch, only once there is something to check

    created = _make_folder(target)
    # Runs last: a failed first install leaves no empty folders behind.
    stack.callback(_remove_empty, created)
    staging = Path(tempfile.mkdtemp(prefix=".rtnet-install-", dir=target))
    stack.callback(shutil.rmtree, staging, True)
    staged: dict[str, Path] = {}
    for name, member in sorted(chosen.items()):
        where = src / member if src.is_dir() else f"{src}: {member}"
        staged_path = staging / "new" / name
        staged_path.parent.mkdir(parents=True, exist_ok=True)
        _copy_member(members[member], staged_path, where)
        key, kind = KNOWN_NAMES[name]
        try:
            load_checkpoint(staged_path, checkpoint_kind(key, kind))  # type: ignore[arg-type]
        except WeightsError as err:
            # Name the file as the user knows it, not its staging copy.
            detail = str(err).removeprefix(f"{staged_path}: ")
            raise WeightsError(f"{where}: {detail}; nothing installed") from None
        staged[name] = staged_path
    return _move_into_place(staged, target, staging / "previous")


def _copy_member(open_member: Callable[[], IO[bytes]], path: Path, where: str | Path) -> None:
    """Extract one member; a member that cannot be read is the source's fault, said as such
    (write errors are OSErrors, the destination's)."""
    try:
        reader = open_member()
    except _EXTRACT_ERRORS as err:
        raise WeightsError(
            f"{where}: cannot extract it ({_reason(err)}); nothing installed"
        ) from None
    size = 0
    with reader, path.open("wb") as writer:
        while True:
            try:
                chunk = reader.read(_CHUNK)
            except _EXTRACT_ERRORS as err:
                raise WeightsError(
                    f"{where}: cannot extract it ({_reason(err)}); nothing installed"
                ) from None
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise WeightsError(
                    f"{where}: larger than {MAX_FILE_BYTES >> 20} MiB, not a weight file; "
                    "nothing installed"
                )
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())  # on disk before the rename makes it visible


def _reason(err: Exception) -> str:
    text = str(err)
    if isinstance(err, RuntimeError) and "encrypted" in text:
        return "it is encrypted: unpack the archive with its password and install the folder"
    if isinstance(err, zlib.error):
        return f"corrupt compressed data: {text}"
    return text or type(err).__name__


def _move_into_place(staged: dict[str, Path], target: Path, backups: Path) -> list[Path]:
    """Each staged file renamed over its final path; on any failure, everything moved so far is
    put back (a replaced file from its hard-linked backup) and the error raised."""
    moved: list[tuple[Path, Path | None]] = []  # final path, backup of the file it replaced
    created: list[Path] = []
    try:
        for name, staged_path in staged.items():
            final = target / name
            created += _make_folder(final.parent)
            backup = None
            if final.exists():
                backup = backups / name
                backup.parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(final, backup)
            os.replace(staged_path, final)
            moved.append((final, backup))
    except BaseException:
        for final, backup in reversed(moved):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, final)
                else:
                    final.unlink()
        _remove_empty(created)
        raise
    return [final for final, _ in moved]


def _link_or_copy(path: Path, copy: Path) -> None:
    try:
        os.link(path, copy)
    except OSError:  # a filesystem without hard links
        shutil.copy2(path, copy)


def _make_folder(folder: Path) -> list[Path]:
    """``mkdir -p``; the folders it created, outermost first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing[::-1]


def _remove_empty(folders: list[Path]) -> None:
    """Undo the creation of folders that ended up holding nothing (innermost first)."""
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _source_members(src: Path, stack: contextlib.ExitStack) -> dict[str, Callable[[], IO[bytes]]]:
    """Relative posix name -> opener, for each file of a folder or a zip archive."""
    if src.is_dir():
        return {
            path.relative_to(src).as_posix(): functools.partial(_open_binary, path)
            for path in sorted(src.rglob("*"))
            if path.is_file()
        }
    if not src.exists():
        raise WeightsError(f"{src}: no such folder or .zip file")
    if not zipfile.is_zipfile(src):
        raise WeightsError(f"{src}: neither a folder nor a .zip file")
    try:
        archive = stack.enter_context(zipfile.ZipFile(src))
    except (zipfile.BadZipFile, OSError) as err:
        raise WeightsError(f"{src}: cannot read this .zip file ({err})") from None
    files = [info for info in archive.infolist() if not info.is_dir()]
    twice = [name for name, count in Counter(info.filename for info in files).items() if count > 1]
    if twice:
        raise WeightsError(
            f"{src}: holds {twice[0]} more than once (an ambiguous archive): nothing installed"
        )
    return {info.filename: functools.partial(archive.open, info) for info in files}


def _open_binary(path: Path) -> IO[bytes]:
    return path.open("rb")
