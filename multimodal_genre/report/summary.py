"""The answer a report opens with: for each group of comparable results, the best model and its
score, what fusing the views gained over the best model that reads one, and its weakest genres."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from multimodal_genre.comparison_tables import fusion_gain
from multimodal_genre.pages import Block, Heading, Image, Items
from multimodal_genre.report.sources import Entry, Group

WEAKEST_GENRES = 3


def summary_blocks(groups: Sequence[Group], chart: Path | None) -> list[Block]:
    """A heading, one line per group and the first group's chart of test scores."""
    lines = [_group_line(group) for group in groups]
    blocks: list[Block] = [Heading(2, "Summary"), Items(lines)]
    if chart is not None:
        blocks.append(Image(chart, f"Test macro-F1: {groups[0].title}"))
    return blocks


def _group_line(group: Group) -> str:
    best = group.entries[0]  # entries come best first
    scores = best.metric_table()["macro_f1"]
    spread = f" ± {scores.std(ddof=1):.3f} over {len(scores)} folds" if len(scores) > 1 else ""
    weakest = best.f1_table().mean(axis=1).nsmallest(WEAKEST_GENRES)
    parts = [
        f"{group.title}: best {best.label}, macro-F1 {scores.mean():.3f}{spread}",
        fusion_gain({entry.label: entry.score for entry in group.entries}, _models(group.entries)),
        f"its weakest genres: {', '.join(f'{genre} {f1:.2f}' for genre, f1 in weakest.items())}",
    ]
    return "; ".join(part for part in parts if part) + "."


def _models(entries: Sequence[Entry]) -> dict[str, str]:
    return {entry.label: entry.model for entry in entries}
