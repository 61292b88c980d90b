"""A study's own reports: the trials table and Optuna's plots, and the summary of a study run in
each outer fold (``outer_folds.{csv,md}``): what tuning gained over the configured settings."""

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
from multimodal_genre.pages import Block, Heading, Paragraph, Table, write_markdown
from multimodal_genre.statistics import corrected_t_test

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
    """``outer_folds.{csv,md}``: each outer fold's test macro-F1 of the settings its study kept, of
    the configured settings and of the winner, and what tuning gained, with its noise."""
    write_csv(directory / "outer_folds.csv", table, index=False)
    heading = Heading(1, f"{title}, cross-validated by {len(table)} outer grouped folds")
    ran = [Paragraph(f"Command: `{command}`")] if command else []
    write_markdown(directory / "outer_folds.md", [heading, *outer_blocks(table, final), *ran])


def outer_blocks(table: pd.DataFrame, final: str) -> list[Block]:
    """What a study over outer folds found, for its summary and the report."""
    return [
        Paragraph(
            "Each outer fold ran its own study on its training side: the configured settings first, then the "
            "trials, all on the same inner folds. The winner replaced the configured settings only where it beat "
            f"them by more than the inner folds' noise. The settings kept ({final} or the configured ones), the "
            "configured settings and the winner were each re-trained on the fold's training side in the same way "
            "and tested once on its test side."
        ),
        Paragraph(outer_verdict(table)),
        Table(table.round(4).set_index("fold")),
    ]


def outer_verdict(table: pd.DataFrame) -> str:
    """Tuned against configured over the outer folds, with the corrected t-test, and the winner always taken."""
    tuned, untuned, winner = table["tuned_macro_f1"], table["untuned_macro_f1"], table["winner_macro_f1"]
    differences = (tuned - untuned).to_numpy()
    t, p = corrected_t_test(differences, 1 / (len(table) - 1))
    taken = int((table["kept"] == "winner").sum())
    return (
        f"**Tuned minus configured: {differences.mean():+.3f} macro-F1** (tuned {tuned.mean():.3f} ± "
        f"{tuned.std(ddof=1):.3f}, configured {untuned.mean():.3f} ± {untuned.std(ddof=1):.3f}; corrected t "
        f"{t:.2f}, p {p:.3f} over {len(table)} folds). The winner was taken in {taken} of {len(table)} folds; "
        f"always taken, it would have scored {winner.mean():.3f} ({winner.mean() - untuned.mean():+.3f})."
    )
