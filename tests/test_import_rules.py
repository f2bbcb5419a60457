"""Imports point one way: the CLI uses everything and nothing uses the CLI; models know neither
the weights catalogue nor any UI. Read from the sources (every import, also those inside
functions or under TYPE_CHECKING), so the check is cheap and sees imports no test runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rtnet

PACKAGE = Path(rtnet.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing package
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


MODULES = {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


# (importer package, forbidden package, why)
RULES = [
    ("rtnet.models", "rtnet.weights", "models never import the weights catalogue"),
    ("rtnet.models", "rtnet.cli", "models never import the CLI"),
    ("rtnet.models", "rich", "models draw no UI"),
    ("rtnet.models", "rtnet.training", "models know nothing of custom classifiers"),
    ("rtnet.models", "rtnet.resolve", "models do not choose networks"),
    ("rtnet.training", "rtnet.cli", "training does not import the CLI"),
    ("rtnet.weights", "rtnet.cli", "the weights catalogue does not import the CLI"),
]


@pytest.mark.parametrize(("importer", "forbidden", "why"), RULES)
def test_imports_point_one_way(importer: str, forbidden: str, why: str) -> None:
    wrong = sorted(
        f"{module} imports {name}"
        for module, names in MODULES.items()
        if _within(module, importer)
        for name in names
        if _within(name, forbidden)
    )
    assert not wrong, f"{why}: {wrong}"


def test_only_the_entry_points_import_the_cli() -> None:
    wrong = sorted(
        f"{module} imports {name}"
        for module, names in MODULES.items()
        if not _within(module, "rtnet.cli") and module != "rtnet.__main__"
        for name in names
        if _within(name, "rtnet.cli")
    )
    assert not wrong, wrong


def test_the_rules_see_the_imports() -> None:
    """The parse finds imports in functions and relative ones (else the rules pass vacuously)."""
    assert "rtnet.cli" in MODULES["rtnet.__main__"] or any(
        _within(name, "rtnet.cli") for name in MODULES["rtnet.__main__"]
    )
    assert "rtnet.resolve" in MODULES["rtnet.cli.commands"]  # imported inside a function
    assert any(_within(name, "rtnet.models") for name in MODULES["rtnet.training.classifier"])
