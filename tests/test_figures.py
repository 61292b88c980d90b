"""Every figure the project publishes comes from a command: each figure (a number with two decimals
or more) in README.md, docs/ and reports/benchmarks/*.md is found in a JSON under reports/benchmarks/
that the file names in a ``<!-- figures: a.json, b.json -->`` line, and each such JSON records the
date, commit, processor and command that wrote it, or is a list of published figures, each with its
citation. Code (fenced blocks and spans) shows commands, settings and sample output, not figures."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "reports" / "benchmarks"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted(BENCHMARKS.glob("*.md"))]
FIGURE = re.compile(r"(?<![\w.\-/])[+\-−]?(\d+\.\d{2,}(?:e[+-]?\d+)?)(?![\w.]*\d)")
SOURCES = re.compile(r"<!-- figures: ([^>]*) -->")
PROVENANCE = {"date", "commit", "processor", "command"}


def figures(text: str) -> list[str]:
    """The figures of a Markdown page's prose and tables."""
    prose = re.sub(r"`[^`]*`", "", re.sub(r"```.*?```", "", text, flags=re.S))
    return [match.group(1) for match in FIGURE.finditer(prose)]


def numbers(data: Any) -> set[float]:
    """Every number in a JSON document, those written inside its strings too."""
    if isinstance(data, bool):
        return set()
    if isinstance(data, (int, float)):
        return {abs(float(data))}
    if isinstance(data, str):
        return {abs(float(found)) for found in re.findall(r"-?\d+\.\d+", data)}
    values = data.values() if isinstance(data, dict) else data if isinstance(data, list) else []
    return set().union(*(numbers(value) for value in values))


def from_a_command_or_a_paper(data: dict[str, Any]) -> bool:
    """The JSON names the command, commit, processor and date behind it (at its top, or in each of
    its entries), or it holds published figures, each with its citation."""
    if "figures" in data and "command" not in data:
        return all(isinstance(figure.get("citation"), str) and figure["citation"] for figure in data["figures"])
    if PROVENANCE <= set(data):
        return True
    entries = data.get("entries")
    return "command" in data and isinstance(entries, dict) and all(PROVENANCE <= set(e) for e in entries.values())


@pytest.mark.parametrize("page", PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_figure_is_in_a_json_a_command_wrote(page):
    text = page.read_text()
    found = figures(text)
    if not found:
        return
    declared = [name.strip() for match in SOURCES.finditer(text) for name in match.group(1).split(",")]
    assert declared, f"{page.name} has figures ({', '.join(found[:5])}) but names no JSON they come from"
    values: set[float] = set()
    for name in declared:
        path = BENCHMARKS / name
        assert path.is_file(), f"{page.name} names {name}, which is not under reports/benchmarks/"
        data = json.loads(path.read_text())
        assert from_a_command_or_a_paper(data), f"{name} records no date, commit, processor and command"
        values |= numbers(data)
    unsourced = [figure for figure in found if not _held(figure, values)]
    assert not unsourced, f"{page.name}: figures found in none of {', '.join(declared)}: {', '.join(unsourced)}"


def _held(figure: str, values: set[float]) -> bool:
    mantissa, _, exponent = figure.partition("e")
    decimals = len(mantissa.split(".")[1])
    if exponent:  # written as 7.95e-08: the same digits
        return any(f"{value:.{decimals}e}" == f"{float(figure):.{decimals}e}" for value in values)
    return any(round(value, decimals) == float(figure) for value in values)


def test_the_check_finds_a_figure_typed_by_hand(tmp_path):
    """The rule itself: a figure that is in the named JSON passes, one typed beside it fails."""
    source = {"command": "python benchmarks/x.py", "date": "d", "commit": "c", "processor": "p", "mean": 0.8514}
    assert from_a_command_or_a_paper(source) and _held("0.851", numbers(source)) and not _held("0.852", numbers(source))
    assert figures("svm 0.851 ± 0.020, `--level 0.05`\n```\nmacro-F1 0.7\n```") == ["0.851", "0.020"]
    assert figures("error 7.95e-08") == ["7.95e-08"] and _held("7.95e-08", {7.954e-08})
    assert not from_a_command_or_a_paper({"command": "python x.py", "mean": 0.8})  # no commit, date, processor
    assert not from_a_command_or_a_paper({"figures": [{"value": 0.797}]})  # a published figure without citation
