"""Per-genre F1 of several K-fold comparisons side by side: what a change bought, genre by genre.

    python benchmarks/per_genre.py --out reports/benchmarks/accuracy_per_genre \\
        "one network, seed 42=DIR_A:fused" "fold ensemble, seed 42=DIR_B:fused" ...

Each argument is LABEL=COMPARISON_FOLDER:MODEL; the folder is a `compare --folds K` output. Writes
OUT.png (bars, mean over folds, one standard deviation) and OUT.csv (the means).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from multimodal_genre.data import GENRES
from multimodal_genre.plots import plot_per_genre_f1

GENRE_COLUMNS = [f"f1_{genre}" for genre in GENRES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output path without extension")
    parser.add_argument("--title", default="F1 per genre, grouped 5-fold (mean ± standard deviation over folds)")
    parser.add_argument("columns", nargs="+", help="LABEL=COMPARISON_FOLDER:MODEL")
    args = parser.parse_args()
    means, stds = {}, {}
    for column in args.columns:
        label, _, source = column.partition("=")
        folder, _, model = source.rpartition(":")
        folds = pd.read_csv(Path(folder) / "folds.csv")
        rows = folds.loc[folds["model"] == model, GENRE_COLUMNS]
        if rows.empty:
            sys.exit(f"{folder}: no model {model} in folds.csv")
        means[label], stds[label] = rows.mean().to_numpy(), rows.std(ddof=1).to_numpy()
    means_table = pd.DataFrame(means, index=list(GENRES))
    means_table.round(3).to_csv(args.out.with_suffix(".csv"), index_label="genre")
    colors = {label: f"C{index}" for index, label in enumerate(means)}
    plot_per_genre_f1(
        args.out.with_suffix(".png"), means_table, pd.DataFrame(stds, index=list(GENRES)), args.title, colors
    )
    print(means_table.round(3).to_markdown())


if __name__ == "__main__":
    main()
