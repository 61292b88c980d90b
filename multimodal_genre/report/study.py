"""A study's own reports: the trials table and Optuna's plots, and the summary of a study run in
each outer fold (``outer_folds.{csv,md}``)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot
import optuna
import pandas as pd
from optuna.trial import TrialState
from optuna.visualization import matplotlib as optuna_plots

from multimodal_genre.files import write_csv
from multimodal_genre.report.render import Block, Heading, Paragraph, Table, write_markdown

PARALLEL_COORDINATES = 6  # settings in the parallel-coordinate plot: more axes overlap


def write_study_reports(study: optuna.Study, directory: Path) -> None:
    """The trials table and Optuna's plots: optimisation history, parameter importances, parallel coordinates."""
    study.trials_dataframe().to_csv(directory / "trials.csv", index=False)
    complete = [trial for trial in study.trials if trial.state == TrialState.COMPLETE]
    figures: dict[str, Callable[[], Any]] = {
        "optimization_history": lambda: optuna_plots.plot_optimization_history(study)
    }
    if len(complete) >= 2:
        figures["parallel_coordinate"] = lambda: optuna_plots.plot_parallel_coordinate(
            study, params=_most_important(study)
        )
        figures["param_importances"] = lambda: optuna_plots.plot_param_importances(study)
    # rc_context: Optuna's plots switch Matplotlib's global style, which must not leak into ours.
    with warnings.catch_warnings(), matplotlib.rc_context():
        # Optuna's plots warn about short studies (flat axes, equal importances); the plots stand.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for name, plot in figures.items():
            try:
                axes = plot()
            except (ValueError, RuntimeError):
                # Importances need settings that varied across finished trials; a short study may have none.
                continue
            figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
            figure.set_size_inches(12, 6)
            figure.savefig(directory / f"{name}.png", dpi=100, bbox_inches="tight")
            matplotlib.pyplot.close(figure)


def _most_important(study: optuna.Study) -> list[str] | None:
    """The settings that mattered most, as many as a parallel-coordinate plot shows legibly (all
    of them when importances cannot be computed yet)."""
    try:
        return list(optuna.importance.get_param_importances(study))[:PARALLEL_COORDINATES]
    except (ValueError, RuntimeError):
        return None


def write_outer_summary(table: pd.DataFrame, title: str, final: str, command: str | None, directory: Path) -> None:
    """``outer_folds.{csv,md}``: each outer fold's tuned and untuned test macro-F1, and the verdict."""
    write_csv(directory / "outer_folds.csv", table, index=False)
    tuned, untuned = table["tuned_macro_f1"], table["untuned_macro_f1"]
    gain = tuned.mean() - untuned.mean()
    wins = int((tuned > untuned).sum())
    verdict = "Tuning gained" if gain > 0 else "Tuning did not gain"
    blocks: list[Block] = [
        Heading(1, f"{title}, cross-validated by {len(table)} outer grouped folds"),
        Paragraph(
            f"Each outer fold ran its own study on its training side, re-trained {final} and tested them "
            f"once on its test side, beside the untuned model trained on the same rows."
        ),
        Paragraph(
            f"**{verdict}: {gain:+.3f} macro-F1** (tuned {tuned.mean():.3f} ± {tuned.std(ddof=1):.3f}, untuned "
            f"{untuned.mean():.3f} ± {untuned.std(ddof=1):.3f}; tuned better on {wins} of {len(table)} folds)."
        ),
        *([Paragraph(f"Command: `{command}`")] if command else []),
        Table(table.round(4).astype({"fold": int, "trials": int}).set_index("fold")),
    ]
    write_markdown(directory / "outer_folds.md", blocks)
