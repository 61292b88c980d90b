"""What the commands run: one model on one split, or every model compared on the same splits.

A comparison uses one grouped hold-out split, or grouped stratified K-fold with mean and standard
deviation across folds: published single-split figures move by several points with the split, so
K-fold is the honest number. Each model of each fold writes its own run folder; the comparison
folder adds ``comparison.{md,csv}``, ``per_genre_f1.{csv,png}`` (and ``folds.csv`` for K-fold).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import keras
import pandas as pd
import yaml

from multimodal_genre.config import MODEL_NAMES, Config, config_dict
from multimodal_genre.data import GENRES, GenreDataset, Split, holdout_split, kfold_splits
from multimodal_genre.evaluation import METRICS
from multimodal_genre.models import predict_proba
from multimodal_genre.recipes import Recipe
from multimodal_genre.reports import markdown_table, plot_per_genre_f1, write_json
from multimodal_genre.runs import (
    CONFIG_FILE,
    RUN_FILE,
    RUN_FORMAT,
    dataset_info,
    finished_run_scores,
    library_versions,
    write_model_run,
)
from multimodal_genre.training import Progress, Write, train_model

SINGLE_VIEW = ("cnn", "mlp", "xgboost")


@dataclasses.dataclass(frozen=True)
class ComparisonResult:
    directory: Path
    scores: pd.DataFrame  # one row per (fold, model): the metrics and the F1 of each genre
    seconds: float


def run_comparison(
    dataset: GenreDataset,
    config: Config,
    out: Path,
    models: Sequence[str] = MODEL_NAMES,
    folds: int | None = None,
    progress: Progress = "silent",
    write: Write = print,
    command: str | None = None,
    recipe: Recipe | None = None,
    resume: bool = False,
) -> ComparisonResult:
    """Train ``models`` on the hold-out split (``folds`` None) or on each of ``folds`` grouped folds;
    ``recipe`` (the published system ``config`` came from) is recorded in every run folder. With
    ``resume``, model runs that already finished in ``out`` are kept, not trained again: a K-fold
    comparison takes hours on a CPU, and an interruption should cost one model run at most. The
    wall time recorded then counts the kept runs' training time."""
    started = time.perf_counter()
    kept_seconds = 0.0
    if folds is None:
        splits = [holdout_split(dataset.labels, dataset.groups, config.split)]
    else:
        splits = kfold_splits(dataset.labels, dataset.groups, dataclasses.replace(config.split, folds=folds))
    rows = []
    for index, split in enumerate(splits, start=1):
        fold = None if folds is None else (index, folds)
        for name in models:
            run_dir = out / name if fold is None else out / f"fold{index}" / name
            kept = finished_run_scores(run_dir, name, config, dataset, split) if resume else None
            if kept is None:
                scores = run_model(name, dataset, config, split, run_dir, fold, progress, write, command, recipe)
            else:
                scores, seconds = kept
                kept_seconds += seconds
                write(f"{name:<8} {_where(fold)}: kept the finished run {run_dir}, macro-F1 {scores['macro_f1']:.3f}")
            rows.append({"fold": index, "model": name, **scores})
    table = pd.DataFrame(rows)
    seconds = time.perf_counter() - started + kept_seconds
    _write_comparison(out, table, folds, dataset, config, seconds, command, recipe)
    return ComparisonResult(out, table, seconds)


def run_model(
    name: str,
    dataset: GenreDataset,
    config: Config,
    split: Split,
    out: Path,
    fold: tuple[int, int] | None = None,
    progress: Progress = "silent",
    write: Write = print,
    command: str | None = None,
    recipe: Recipe | None = None,
) -> dict[str, float]:
    """Train ``name`` on ``split``, score it on the test side, write its run folder ``out`` and a
    summary line; return the test scores. ``fold`` is (index, count) for a K-fold split."""
    trained = train_model(name, config, dataset, split, progress, write)
    probabilities = predict_proba(trained.model, dataset.images[split.test], dataset.features[split.test])
    info = _split_info(split, config, fold)
    record = recipe.record() if recipe else None
    scores = write_model_run(out, trained, config, dataset, split, probabilities, info, command, record)
    write(
        f"{name:<8} {_where(fold)}: macro-F1 {scores['macro_f1']:.3f}, accuracy {scores['accuracy']:.3f} "
        f"on {len(split.test)} test tracks; {len(trained.history)} {trained.unit}s (kept {trained.best_epoch}), "
        f"{trained.seconds:.0f} s"
    )
    keras.backend.clear_session()
    return scores


def _where(fold: tuple[int, int] | None) -> str:
    return "hold-out split" if fold is None else f"fold {fold[0]}/{fold[1]}"


def _split_info(split: Split, config: Config, fold: tuple[int, int] | None) -> dict:
    return {
        "kind": "holdout" if fold is None else "kfold",
        "fold": None if fold is None else fold[0],
        "folds": None if fold is None else fold[1],
        "seed": config.split.seed,
        "train": len(split.train),
        "validation": len(split.validation),
        "test": len(split.test),
    }


def _write_comparison(
    out: Path,
    table: pd.DataFrame,
    folds: int | None,
    dataset: GenreDataset,
    config: Config,
    seconds: float,
    command: str | None,
    recipe: Recipe | None,
) -> None:
    models = list(dict.fromkeys(table["model"]))
    genre_columns = [f"f1_{genre}" for genre in GENRES]
    grouped = table.groupby("model", sort=False)
    means = grouped[list(METRICS)].mean().loc[models]
    genre_means = grouped[genre_columns].mean().loc[models].T.set_axis(list(GENRES))
    kind = "hold-out split" if folds is None else f"grouped stratified {folds}-fold cross-validation"
    what = "synthetic data" if dataset.synthetic else f"{dataset.root.name} ({len(dataset)} tracks)"

    if folds is None:
        means.to_csv(out / "comparison.csv")
        genre_means.to_csv(out / "per_genre_f1.csv", index_label="genre")
        overall, per_genre, genre_stds = means, genre_means, None
    else:
        table.to_csv(out / "folds.csv", index=False)
        stds = grouped[list(METRICS)].std(ddof=1).loc[models]
        genre_stds = grouped[genre_columns].std(ddof=1).loc[models].T.set_axis(list(GENRES))
        pd.concat([means.add_suffix("_mean"), stds.add_suffix("_std")], axis=1).to_csv(out / "comparison.csv")
        pd.concat([genre_means.add_suffix("_mean"), genre_stds.add_suffix("_std")], axis=1).to_csv(
            out / "per_genre_f1.csv", index_label="genre"
        )
        overall, per_genre = _with_spread(means, stds), _with_spread(genre_means, genre_stds)

    plot_per_genre_f1(out / "per_genre_f1.png", genre_means, genre_stds, f"Per-genre F1, {kind}, {what}")
    lines = [
        f"# Model comparison: {kind}",
        "",
        *(["**SYNTHETIC DATA: these figures say nothing about real music.**", ""] if dataset.synthetic else []),
        f"Dataset `{dataset.root}`: {len(dataset)} tracks, fingerprint {dataset.fingerprint}.",
        f"Test figures{' (mean ± standard deviation over folds)' if folds else ''}; wall time {seconds:.0f} s.",
        *([f"Command: `{command}`"] if command else []),
        "",
        markdown_table(overall) if folds is None else overall.to_markdown() + "\n",
        _fusion_gain(means),
        "## F1 per genre",
        "",
        markdown_table(per_genre) if folds is None else per_genre.to_markdown() + "\n",
        "![Per-genre F1](per_genre_f1.png)",
        "",
    ]
    (out / "comparison.md").write_text("\n".join(lines))
    (out / CONFIG_FILE).write_text(yaml.safe_dump(config_dict(config), sort_keys=False))
    write_json(
        out / RUN_FILE,
        {
            "format": RUN_FORMAT,
            "kind": "comparison",
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": command,
            "recipe": recipe.record() if recipe else None,
            "versions": library_versions(),
            "dataset": dataset_info(dataset),
            "models": models,
            "folds": folds,
            "seconds": round(seconds, 1),
        },
    )


def _with_spread(means: pd.DataFrame, stds: pd.DataFrame) -> pd.DataFrame:
    return means.map(lambda value: f"{value:.3f}") + " ± " + stds.map(lambda value: f"{value:.3f}")


def _fusion_gain(means: pd.DataFrame) -> str:
    singles = [name for name in SINGLE_VIEW if name in means.index]
    if "fused" not in means.index or not singles:
        return ""
    best = means.loc[singles, "macro_f1"].idxmax()
    gain = means.loc["fused", "macro_f1"] - means.loc[best, "macro_f1"]
    return f"Fused minus the best single-view model ({best}): {gain:+.3f} macro-F1.\n"
