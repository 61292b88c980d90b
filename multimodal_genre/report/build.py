"""``multimodal-genre report``: run folders in, ``report.html`` + ``report.md`` + ``figures/`` out.

The order of the report, answer first: a table of contents, a summary (the best model, what fusion
gained, the weakest genres, one chart), the published figures beside ours for runs made from a
recipe, each group of comparable results with its models best first (scores, each model paired with
the best over the same folds, F1 per genre, precision, recall, F1 and support per genre, the genre
pairs most confused, row-normalised confusion matrices, reliability diagrams, learning curves, the
best model's most confident mistakes with their pictures), the tuning studies, the configs every run
used, and last an appendix of provenance (datasets, run folders, commands, versions).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from multimodal_genre.data import GENRES
from multimodal_genre.files import new_run_dir, writing_into
from multimodal_genre.pages import (
    BEST_MARK,
    Banner,
    Block,
    Contents,
    Gallery,
    Heading,
    Image,
    Items,
    Paragraph,
    Table,
    write_html,
    write_markdown,
)
from multimodal_genre.records import DecisionRecord
from multimodal_genre.report.figures import entry_colors, entry_figures, group_figures, study_figures
from multimodal_genre.report.mistakes import confident_mistakes, thumbnail
from multimodal_genre.report.paired import paired_table
from multimodal_genre.report.provenance import appendix_blocks, config_blocks, setting_text
from multimodal_genre.report.sources import Entry, Group, Source, groups_of, mean_std, outer_tables, read_sources
from multimodal_genre.report.summary import summary_blocks
from multimodal_genre.statistics import RESAMPLES, score_interval
from multimodal_genre.tuning.reports import outer_blocks

TITLE = "multimodal_genre report"
REPORT_DIR = Path("reports/html")  # where a report goes without --out
CONFUSED_PAIRS = 3  # per model
BEST_NOTE = f"the best model per genre in bold with {BEST_MARK}"
# One split's score is one draw: its interval comes from resampling its test tracks.
_INTERVAL_NOTE = f"; the interval: {RESAMPLES} bootstrap resamples of the test tracks"
SCORE_COLUMNS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "macro_f1": "macro-F1"}


@dataclasses.dataclass(frozen=True)
class Report:
    html: Path
    markdown: Path
    figures: list[Path]
    synthetic: bool


def write_report(directories: Sequence[Path], out: Path | None = None, command: str | None = None) -> Report:
    """Read every run folder (refusing the first that is not one), then write the report into ``out``
    (default: a new folder under reports/html, made only once every run folder has been read),
    holding its lock: a second writer is refused."""
    sources, outer = read_sources(directories), outer_tables(directories)
    out = out or new_run_dir(REPORT_DIR, "report")
    with writing_into(out):
        return _write_page(sources, outer, out, command)


def _write_page(sources: Sequence[Source], outer: dict[str, pd.DataFrame], out: Path, command: str | None) -> Report:
    groups = groups_of(sources)
    colors = entry_colors([entry for group in groups for entry in group.entries])
    folder = out / "figures"
    folder.mkdir(parents=True, exist_ok=True)

    figures = [group_figures(group, number, colors, folder) for number, group in enumerate(groups, start=1)]
    blocks: list[Block] = [Heading(1, TITLE), *_synthetic_warning(sources), Contents()]
    blocks += summary_blocks(groups, figures[0].get("scores") if figures else None)
    blocks += _recipe_blocks(sources)
    for number, (group, group_paths) in enumerate(zip(groups, figures, strict=True), start=1):
        entry_paths = {entry.label: entry_figures(entry, number, colors, folder) for entry in group.entries}
        blocks += _group_blocks(group, group_paths, entry_paths)
        blocks += _mistake_blocks(group.entries[0], folder / f"group{number}-mistakes")
    for name, table in outer.items():
        blocks += [Heading(2, f"Tuning over outer folds: {name}"), *outer_blocks(table, "the best trial's settings")]
    for source in sources:
        if source.study:
            blocks += _study_blocks(source, study_figures(source, folder))
    blocks += config_blocks(sources)
    blocks += appendix_blocks(sources, command)

    html, markdown = out / "report.html", out / "report.md"
    write_html(html, TITLE, blocks)
    write_markdown(markdown, blocks)
    images = [image for block in blocks for image in (block.images if isinstance(block, Gallery) else [block])]
    figures = list(dict.fromkeys(image.path for image in images if isinstance(image, Image)))  # the summary repeats one
    return Report(html, markdown, figures, any(source.synthetic for source in sources))


def _synthetic_warning(sources: Sequence[Source]) -> list[Block]:
    synthetic = [source.folder for source in sources if source.synthetic]
    if not synthetic:
        return []
    which = "every run" if len(synthetic) == len(sources) else "these runs: " + ", ".join(synthetic)
    return [
        Banner(
            f"SYNTHETIC DATA: {which} trained and tested on generated data, not on real music. "
            "The figures below say nothing about how well any model classifies genres."
        )
    ]


def _recipe_blocks(sources: Sequence[Source]) -> list[Block]:
    """For each run made from a recipe (``--recipe``): the paper's figures beside ours, and how each was measured."""
    rows, recipes = [], {}
    for source in sources:
        recipe = source.record.recipe
        if recipe is None or recipe.model not in source.results:
            continue
        recipes.setdefault(recipe.name, recipe)
        results = source.results[recipe.model]
        ours = pd.DataFrame([result.metrics for result in results])
        split = results[0].record.split
        measured = (
            f"grouped {len(results)}-fold, mean ± std"
            if len(results) > 1
            else f"one grouped split, {split.train}/{split.validation}/{split.test} tracks"
        )
        for metric in recipe.published or ["macro_f1"]:
            published = recipe.published.get(metric)
            rows.append(
                {
                    "recipe": recipe.name,
                    "metric": metric,
                    "published": "not published" if published is None else f"{published:.3f}",
                    "ours": mean_std(ours[metric]),
                    "ours measured on": measured,
                    "folder": source.folder,
                }
            )
    if not rows:
        return []
    return [
        Heading(2, "Published systems reproduced"),
        Paragraph(
            "Runs made from a recipe (configs/recipes/): the paper's figure, where the paper measured it, beside "
            "ours on this package's test tracks. Our single split is grouped, so duplicate tracks never straddle it; "
            "grouped K-fold is the figure to compare systems by."
        ),
        Table(pd.DataFrame(rows).set_index("recipe"), caption="Published figures and ours"),
        Items(
            [
                f"{name} ({recipe.title}), published on {recipe.published_on}; differs: "
                + "; ".join(recipe.differences)
                for name, recipe in recipes.items()
            ]
        ),
    ]


def _group_blocks(group: Group, group_paths: dict[str, Path], entry_paths: dict[str, dict[str, Path]]) -> list[Block]:
    cross_validated = group.entries[0].folds is not None
    spread = " (mean ± standard deviation over folds)" if cross_validated else ""
    scores, per_genre, best = _score_table(group), *_per_genre_table(group)
    ranked = len(group.entries) > 1  # one model has no best to mark, and its scores no chart of one bar
    blocks: list[Block] = [
        Heading(2, f"Results: {group.title}"),
        Paragraph(
            "Every model in this section was tested on exactly the same tracks, so their scores compare. "
            + (
                "Each fold's model was tested on tracks it never saw; the folds keep duplicate tracks together."
                if cross_validated
                else "Duplicate tracks never straddle the split."
            )
        ),
        Table(scores, caption=f"Test scores{spread}" + ("" if cross_validated else _INTERVAL_NOTE)),
        *([Image(group_paths["scores"], f"Test macro-F1{spread}")] if ranked else []),
        *_paired_blocks(group),
        Heading(3, "F1 per genre"),
        Table(
            per_genre, best if ranked else None, caption=f"F1 per genre{spread}" + (f"; {BEST_NOTE}" if ranked else "")
        ),
        Image(group_paths["per_genre_f1"], f"F1 per genre{spread}, one colour per model"),
        Heading(3, "Precision, recall and F1 per genre"),
        *(
            Table(entry.per_genre(), caption=f"{entry.label}{spread}; support: test tracks of the genre")
            for entry in group.entries
        ),
        Heading(3, "Genres most often confused"),
        Items([f"{entry.label}: {'; '.join(_confused_pairs(entry.confusion()))}" for entry in group.entries]),
        Heading(3, "Confusion matrices"),
        Paragraph("Each row is a true genre's tracks, shared out over the genres they were predicted as."),
    ]
    summed = " (summed over folds: every track once)" if cross_validated else ""
    blocks.append(
        Gallery([Image(entry_paths[entry.label]["confusion"], f"{entry.label}{summed}") for entry in group.entries])
    )
    return blocks + _curve_blocks(group, group_paths, entry_paths)


def _curve_blocks(group: Group, group_paths: dict[str, Path], entry_paths: dict[str, dict[str, Path]]) -> list[Block]:
    """Reliability diagrams of the group's models, then each one's learning curves."""
    cross_validated = group.entries[0].folds is not None
    blocks: list[Block] = [
        Heading(3, "Reliability"),
        Paragraph(
            "Test tracks in bins by the probability of their predicted genre: a calibrated model's accuracy in "
            "each bin equals that probability (the dotted diagonal). The calibration error is the gap, averaged "
            "over the tracks."
        ),
        Image(group_paths["reliability"], "Reliability diagrams: accuracy against confidence, one colour per model"),
    ]
    blocks.append(Heading(3, "Learning curves"))
    blocks += [
        Image(
            entry_paths[entry.label]["learning_curves"],
            f"{entry.label}: training (dashed)"
            + (
                " and validation (solid)"
                if any("val_loss" in result.history for result in entry.results)
                else "; trained on train + validation for a fixed length, so no validation curve"
            )
            + _lines_per(entry, cross_validated),
        )
        for entry in group.entries
    ]
    return blocks


def _paired_blocks(group: Group) -> list[Block]:
    """Each model against the best on the same folds (or tracks): is the gap more than chance?"""
    table = paired_table(group)
    if table is None:
        return []
    if group.entries[0].folds:
        why = (
            "Macro-F1 of the best model minus each other's, fold by fold, and Nadeau and Bengio's corrected "
            "resampled t-test of the mean difference (the folds' training sets overlap, so a plain t-test "
            "would be overconfident); p below 0.05: the gap is unlikely to be chance."
        )
    else:
        why = (
            "Macro-F1 of the best model minus each other's on the same test tracks, with a 95% interval from "
            f"{RESAMPLES} paired bootstrap resamples of the tracks; an interval that holds 0: the gap may be chance."
        )
    return [Heading(3, "Paired comparison with the best model"), Paragraph(why), Table(table)]


def _mistake_blocks(entry: Entry, stem: Path) -> list[Block]:
    """The best model's most confident mistakes, with their pictures where the dataset still is."""
    mistakes = confident_mistakes(entry)
    if mistakes.empty:
        return []
    shown = mistakes.assign(**{column: mistakes[column].map("{:.2f}".format) for column in ("p(predicted)", "p(true)")})
    pictures = [
        Image(path, f"{track}: {row['true genre']}, predicted {row['predicted']} {row['p(predicted)']:.2f}")
        for track, row in mistakes.iterrows()
        if (path := thumbnail(entry, track, row["true genre"], Path(f"{stem}-{track}.png"))) is not None
    ]
    root = entry.results[0].record.dataset.root
    blocks: list[Block] = [
        Heading(3, f"Most confidently wrong: {entry.label}"),
        Paragraph(
            f"The {len(mistakes)} test tracks the best model got wrong with the highest probability on its "
            "predicted genre: mislabelled tracks, songs between two genres, or views it misreads."
        ),
        Table(shown),
    ]
    if pictures:
        return [*blocks, Gallery(pictures, thumbnails=True)]
    return [*blocks, Paragraph(f"Their pictures are not shown: no dataset at {root}, where the runs recorded it.")]


def _lines_per(entry: Entry, cross_validated: bool) -> str:
    """What each line of an entry's learning curves is: a fold's model, or a member of a bag."""
    if any(result.record.training.members for result in entry.results):
        return ", one line per member of each fold" if cross_validated else ", one line per member"
    return ", one line per fold" if cross_validated else ""


def _score_table(group: Group) -> pd.DataFrame:
    rows = {}
    for entry in group.entries:
        table = entry.metric_table()
        row = {
            "source": entry.source.folder,
            "test tracks": sum(len(result.test_tracks) for result in entry.results),
        }
        for metric, name in SCORE_COLUMNS.items():
            row[name] = mean_std(table[metric])
        if entry.folds is None:
            low, high = score_interval(*_codes(entry.predictions()))
            row["macro-F1 95% interval"] = f"{low:.3f} to {high:.3f}"
        rows[entry.label] = row
    frame = pd.DataFrame(rows).T
    frame.index.name = "model"
    return frame


def _codes(predictions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The true and predicted genres of a predictions table, as genre codes."""
    codes = {genre: code for code, genre in enumerate(GENRES)}
    return predictions["true_genre"].map(codes).to_numpy(), predictions["predicted_genre"].map(codes).to_numpy()


def _per_genre_table(group: Group) -> tuple[pd.DataFrame, pd.DataFrame]:
    means = pd.DataFrame({entry.label: entry.f1_table().mean(axis=1) for entry in group.entries})
    text = pd.DataFrame({entry.label: entry.f1_table().apply(mean_std, axis=1) for entry in group.entries})
    best = means.eq(means.max(axis=1), axis=0)
    text.index.name = best.index.name = "genre"
    return text, best


def _confused_pairs(counts: np.ndarray) -> list[str]:
    """The largest off-diagonal cells, in words: "rock -> country: 6 of 20" (of the 20 rock tracks)."""
    off = counts.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None, kind="stable")[::-1][:CONFUSED_PAIRS]
    pairs = [np.unravel_index(index, off.shape) for index in order]
    return [
        f"{GENRES[true]} -> {GENRES[predicted]}: {off[true, predicted]} of {counts[true].sum()}"
        for true, predicted in pairs
        if off[true, predicted] > 0
    ] or ["no track confused"]


def _study_blocks(source: Source, paths: dict[str, Path]) -> list[Block]:
    study = source.study.record
    trials = study.trials
    model, (final,) = next(iter(source.results.items()))  # a study holds its re-trained run only
    values = {
        "study": study.study,
        "model": model,
        "objective": study.objective,
        "trials (complete / pruned / failed)": f"{trials['complete']} / {trials['pruned']} / {trials['fail']}",
        "best trial": study.best_trial,
        "best validation macro-F1": f"{study.best_validation_macro_f1:.4f}",
        "trials per hour (last session)": f"{study.this_run.trials_per_hour:.1f}",
        **_decision_rows(study.decision),
        "tested once on the test split: macro-F1": f"{final.metrics['macro_f1']:.3f}",
    }
    summary = pd.DataFrame({"value": values})
    summary.index.name = "study"
    params = pd.DataFrame({"best value": {name: setting_text(value) for name, value in study.best_params.items()}})
    params.index.name = "setting"
    captions = {
        "optimization_history": "Optimisation history: each trial's validation macro-F1 and the best so far",
        "param_importances": "Parameter importances (fANOVA over the finished trials)",
        "parallel_coordinate": "Parallel coordinates: settings of each finished trial, coloured by its score",
    }
    retrained = (
        "re-trained on train + validation and tested once on the test split; that run appears among the results above."
    )
    how = (
        f"The best trial's settings were {retrained}"
        if study.decision is None  # a study made before the configured settings were weighed against the winner
        else "The configured settings were scored first, then every trial on the same held-out rows; the winner "
        f"replaces them only where it beats them by more than those rows' noise. The settings kept were {retrained}"
    )
    return [
        Heading(2, f"Tuning study: {study.study}"),
        Paragraph(how),
        Table(summary),
        Table(params, caption="Best settings"),
        *(Image(path, captions[name]) for name, path in paths.items()),
    ]


def _decision_rows(decision: DecisionRecord | None) -> dict[str, str]:
    """The configured settings against the winner, and the decision (none in studies made before it)."""
    if decision is None:
        return {}
    return {
        f"configured settings (trial {decision.default_trial}): held-out macro-F1": f"{decision.default_score:.4f}",
        f"winner (trial {decision.winner_trial}): held-out macro-F1": f"{decision.winner_score:.4f}",
        "winner - configured": f"{decision.difference:+.4f}, {decision.interval_words()} ({decision.method})",
        "decision": decision.words(),
    }
