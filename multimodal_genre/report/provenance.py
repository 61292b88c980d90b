"""The report's last sections: the settings each run changed from the defaults, and an appendix of
where the runs came from (datasets, run folders, commands, versions)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pandas as pd
import yaml

from multimodal_genre import __version__
from multimodal_genre.comparison_tables import split_words
from multimodal_genre.config import config_dict, load_config
from multimodal_genre.data import GENRES
from multimodal_genre.pages import Block, Heading, Paragraph, Table
from multimodal_genre.records import ComparisonRecord, StudyRecord
from multimodal_genre.report.sources import Source
from multimodal_genre.views import sources_as


def config_blocks(sources: Sequence[Source]) -> list[Block]:
    """For each run, the settings it changed from this version's defaults, for the models it trained."""
    blocks: list[Block] = [
        Heading(2, "Configs"),
        Paragraph(
            "Settings each run changed from this version's defaults (configs/default.yaml), for the models it "
            "trained; the complete config is config.yaml in each run folder (tuned.yaml for a study)."
        ),
    ]
    defaults = load_config()
    for source in sources:
        route = "audio" if "source: audio" in source.config else "picture"
        resolved = config_dict(sources_as(defaults, route))  # as the run resolved them when it started
        changes = _config_changes(source, resolved)
        blocks += [Heading(3, str(source.directory))]
        blocks.append(Table(changes) if len(changes) else Paragraph("No changes: the defaults."))
        automatic = _config_changes(source, config_dict(defaults), only=resolved)
        if len(automatic):
            blocks.append(Table(automatic, caption="Not changed, resolved when the run started (from its dataset)"))
    return blocks


def appendix_blocks(sources: Sequence[Source], command: str | None) -> list[Block]:
    """Provenance: when and how the report was made, each run's dataset, folder and command, versions."""
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    blocks: list[Block] = [
        Heading(2, "Appendix: data, runs and versions"),
        Paragraph(f"Made {made} by multimodal_genre {__version__} from {len(sources)} run folder(s) alone."),
    ]
    if command:
        blocks.append(Paragraph(f"Command: {command}"))

    datasets = pd.DataFrame(
        [
            {
                "folder": source.folder,
                "dataset": source.record.dataset.root,
                "tracks": source.record.dataset.tracks,
                "genres": len(GENRES),
                "data hash": source.record.dataset.fingerprint,
                "synthetic": "YES" if source.synthetic else "no",
                "image input": "x".join(map(str, source.record.dataset.image_shape)),
            }
            for source in sources
        ]
    ).set_index("folder")
    runs = pd.DataFrame(
        [
            {
                "folder": source.folder,
                "kind": _kind(source),
                "path": str(source.location),
                "created": source.record.created,
                "command": source.record.command or "(not recorded)",
            }
            for source in sources
        ]
    ).set_index("folder")
    blocks += [
        Paragraph("Genres: " + ", ".join(GENRES) + "."),
        Table(datasets, caption="Dataset of each run (the data hash covers every feature row and image)"),
        Table(runs, caption="Run folders and the commands that made them"),
        Table(_versions(sources), caption="Package and library versions"),
    ]
    return blocks


def _kind(source: Source) -> str:
    record = source.record
    if isinstance(record, ComparisonRecord):
        if record.folds:
            return f"comparison, grouped {record.folds}-fold"
        split = next(iter(source.results.values()))[0].record.split if source.results else None
        lists = split.lists if split is not None and split.kind == "lists" else None
        return "comparison, " + split_words(None, lists, split.test if split else 0)
    if isinstance(record, StudyRecord):
        return f"tuning study of {record.model}, re-trained and tested once"
    return f"{next(iter(source.results))} model run"


def _versions(sources: Sequence[Source]) -> pd.DataFrame:
    """One column per distinct set of versions, named by the folders that share it."""
    sets: dict[tuple, list[str]] = {}
    for source in sources:
        sets.setdefault(tuple(sorted(source.record.versions.items())), []).append(source.folder)
    columns = {", ".join(names) if len(sets) > 1 else "all runs": dict(versions) for versions, names in sets.items()}
    table = pd.DataFrame(columns).fillna("")
    table.index.name = "library"
    return table


def _config_changes(source: Source, defaults: dict[str, object], only: dict[str, object] | None = None) -> pd.DataFrame:
    """The settings of ``source``'s config that differ from ``defaults``, for its models; a section
    replaced by null (one network instead of a bag) is a change like any other. With ``only``, the
    settings ``only`` gives as the run used them: the ones the run resolved itself."""
    used = yaml.safe_load(source.config) if only is None else _same(yaml.safe_load(source.config), only)
    wanted = {f"models.{model}" for model in source.results}
    rows = {
        key: {"value": setting_text(value), "default": setting_text(default)}
        for key, value, default in _differences(used, defaults)
        if not key.startswith("models.") or ".".join(key.split(".")[:2]) in wanted
    }
    table = pd.DataFrame(rows, columns=list(rows), index=["value", "default"]).T
    table.index.name = "setting"
    return table


def _same(used: object, resolved: object) -> object:
    """``used`` reduced to what equals ``resolved`` (mappings key by key), everything else dropped."""
    if isinstance(used, dict) and isinstance(resolved, dict):
        kept = {name: _same(value, resolved.get(name)) for name, value in used.items()}
        return {name: value for name, value in kept.items() if value is not _DROPPED}
    return used if used == resolved else _DROPPED


_DROPPED = object()


def _differences(used: object, default: object, key: str = "") -> Iterator[tuple[str, object, object]]:
    """(dotted key, value, default) of each setting of ``used`` that differs, at the depth where it
    does: a mapping against a mapping is compared key by key, anything else as a whole."""
    if isinstance(used, dict) and isinstance(default, dict):
        for name, value in used.items():
            yield from _differences(value, default.get(name), f"{key}.{name}" if key else str(name))
    elif used != default:
        yield key, used, default


def setting_text(value: object) -> str:
    """A setting as a report cell: floats to 4 significant digits, None as YAML writes it."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "null" if value is None else str(value)
