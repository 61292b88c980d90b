"""Recipes benchmark: each published system next to our reproduction, on its published protocol
(one split, as the paper did) and under grouped 5-fold cross-validation.

For every recipe named (default: all): `train --recipe` on its own split settings, then
`compare --recipe --folds 5`; a recipe whose ImageNet weights cannot be had here (no file in
$MULTIMODAL_GENRE_WEIGHTS and no internet) is listed as not run, with the reason. Results merge
into reports/benchmarks/recipes.json, and reports/recipes.md is written from it, so recipes can be
run one at a time:

    python benchmarks/recipes.py --data ../shared/gtzan --recipe small-cnn-nadam cnn-mlp-hybrid
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from datetime import UTC, datetime
from pathlib import Path

import keras

from multimodal_genre.data import MissingImageWarning, holdout_split, load_dataset
from multimodal_genre.errors import ConfigError
from multimodal_genre.experiments import run_comparison, run_model
from multimodal_genre.models import backbone_network
from multimodal_genre.recipes import Recipe, load_recipe, recipe_names
from multimodal_genre.runs import new_run_dir
from multimodal_genre.training import default_progress

METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "macro_precision", "macro_recall", "roc_auc_ovr")
FOLDS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("GTZAN_DIR"), help="dataset (default: $GTZAN_DIR)")
    parser.add_argument("--recipe", nargs="+", default=recipe_names(), help="recipes to run (default: all)")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args()
    if args.data is None:
        parser.error("name the dataset with --data or GTZAN_DIR")

    path = args.out / "benchmarks" / "recipes.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    for name in args.recipe:
        results[name] = run_recipe(load_recipe(name), args.data)
        path.write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "recipes.md").write_text(markdown(results))
    print((args.out / "recipes.md").read_text())


def run_recipe(recipe: Recipe, data: Path) -> dict:
    """The published protocol's single split and grouped 5-fold, or why the recipe cannot run here."""
    entry = {
        "title": recipe.info.title,
        "model": recipe.info.model,
        "published_on": recipe.info.published_on,
        "published": recipe.info.published,
        "differences": list(recipe.info.differences),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    backbone = getattr(recipe.config.models, recipe.info.model).image.backbone
    if backbone is not None:
        try:
            backbone_network(backbone, (224, 224, 3))
        except ConfigError as error:
            entry["not_run"] = str(error)
            return entry
        finally:
            keras.backend.clear_session()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingImageWarning)
        dataset = load_dataset(data, recipe.config.data)
    split = holdout_split(dataset.labels, dataset.groups, recipe.config.split)
    single = new_run_dir(Path("reports/runs"), f"recipe-{recipe.name}")
    command = f"multimodal-genre train --recipe {recipe.name} --data {data}"
    scores = run_model(
        recipe.info.model, dataset, recipe.config, split, single, progress=default_progress(), command=command
    )
    entry["published_protocol"] = {
        "command": command,
        "run": str(single),
        "split": {"train": len(split.train), "validation": len(split.validation), "test": len(split.test)},
        **{metric: round(scores[metric], 4) for metric in METRICS},
    }
    folds_dir = new_run_dir(Path("reports/runs"), f"recipe-{recipe.name}-{FOLDS}fold")
    command = f"multimodal-genre compare --recipe {recipe.name} --folds {FOLDS} --data {data}"
    cross = run_comparison(
        dataset,
        recipe.config,
        folds_dir,
        models=[recipe.info.model],
        folds=FOLDS,
        progress=default_progress(),
        command=command,
    )
    entry["kfold"] = {
        "command": command,
        "run": str(folds_dir),
        "seconds": round(cross.seconds, 1),
        **{
            metric: [round(float(cross.scores[metric].mean()), 4), round(float(cross.scores[metric].std(ddof=1)), 4)]
            for metric in METRICS
        },
    }
    return entry


def markdown(results: dict) -> str:
    lines = [
        "# Published systems reproduced",
        "",
        "Each recipe in `configs/recipes/` rebuilds a published GTZAN spectrogram system. Per recipe: the",
        "paper's figure (and where it measured it), ours on the published protocol (one split, as the paper",
        f"did, but grouped so duplicates never straddle it), and ours under grouped {FOLDS}-fold cross-validation",
        "(mean ± standard deviation over folds), the figure to compare systems by. Commands and what each",
        "reproduction does differently follow the table; `python benchmarks/recipes.py` made it.",
        "",
        "| recipe | model | metric | published | ours, published protocol | ours, grouped 5-fold |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in results.items():
        metrics = list(entry["published"]) or ["macro_f1"]
        for metric in metrics:
            published = f"{entry['published'][metric]:.3f}" if metric in entry["published"] else "not published"
            if "not_run" in entry:
                ours, kfold = "not run", "not run"
            else:
                ours = f"{entry['published_protocol'][metric]:.3f}"
                mean, std = entry["kfold"][metric]
                kfold = f"{mean:.3f} ± {std:.3f}"
            lines.append(f"| {name} | {entry['model']} | {metric} | {published} | {ours} | {kfold} |")
    lines += ["", "## Recipes", ""]
    for name, entry in results.items():
        lines += [f"### {name}: {entry['title']}", "", f"Published on: {entry['published_on']}."]
        if "not_run" in entry:
            lines.append(f"Not run: {entry['not_run']}.")
        else:
            protocol, kfold = entry["published_protocol"], entry["kfold"]
            lines += [
                f"- published protocol: `{protocol['command']}` (train {protocol['split']['train']}, "
                f"validation {protocol['split']['validation']}, test {protocol['split']['test']} tracks)",
                f"- grouped {FOLDS}-fold: `{kfold['command']}` ({kfold['seconds']:.0f} s)",
            ]
        lines += ["", "What differs from the paper:", "", *(f"- {item}" for item in entry["differences"]), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
