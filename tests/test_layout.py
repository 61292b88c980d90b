"""The package stays readable at a glance: no module over 400 lines, no function over 50, and each
model family in a folder of its own that imports nothing above the families, and the report used by
the command line alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "multimodal_genre"
MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_a_module_reads_at_a_glance(path):
    lines = path.read_text().splitlines()
    assert len(lines) <= 400
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse("\n".join(lines)))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 50
    ]
    assert not long


@pytest.mark.parametrize("path", sorted((PACKAGE / "families").rglob("*.py")), ids=lambda path: path.name)
def test_a_family_imports_nothing_above_the_families(path):
    """Families sit below configs, runs, training and tuning, which use them; an import upwards would
    tie a family to the code that drives it."""
    below = {
        "data",
        "errors",
        "files",
        "log",
        "seen",
        "settings",
        "evaluation",
        "workers",
        "backend",
        "musicnn",
        "scaling",
        "families",
    }
    assert _package_modules_imported(path) <= below


def _package_modules_imported(path: Path) -> set[str]:
    """The package's top-level modules and folders that ``path`` imports from."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module == "multimodal_genre":
            names |= {f"multimodal_genre.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {name.split(".")[1] for name in names if name.startswith("multimodal_genre.")}


@pytest.mark.parametrize(
    "path",
    [path for path in MODULES if path.relative_to(PACKAGE).parts[0] not in ("report", "cli")],
    ids=lambda path: str(path.relative_to(PACKAGE)),
)
def test_only_the_command_line_uses_the_report(path):
    """The report reads run folders and writes none: what a run leaves behind is written below it."""
    assert "report" not in _package_modules_imported(path)
