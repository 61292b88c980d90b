"""Recipes benchmark: each published system next to our reproduction, on its published protocol
(one split, as the paper did) and under grouped 5-fold cross-validation.

For every recipe named (default: all): `train --recipe` on its own split settings, then
`compare --recipe --folds 5`; a recipe whose ImageNet weights cannot be had here (no file in
$MULTIMODAL_GENRE_WEIGHTS and no internet) is listed as not run, with the reason. Results merge
into reports/benchmarks/recipes.json, and reports/recipes.md is written from it, so recipes can be
run one at a time:

    python benchmarks/recipes.py --data ../shared/gtzan --recipe small-cnn-nadam cnn-mlp-hybrid
    python benchmarks/recipes.py --data ../shared/gtzan --own default configs/fused-mobilenet-frozen.yaml

`--own CONFIG=RUN_DIR` takes the grouped 5-fold figures from a finished `compare --folds 5` of that
config (each fold's run checked: same config, dataset and fold) instead of training it again. `--resume` goes on with
each one's newest unfinished 5-fold folder (an interrupted benchmark), keeping its finished folds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import warnings
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from multimodal_genre import log
from multimodal_genre.comparison import ComparisonResult, run_comparison
from multimodal_genre.config import Config, load_config
from multimodal_genre.data import GenreDataset, MissingImageWarning, holdout_split, kfold_splits, load_dataset
from multimodal_genre.errors import ConfigError, RunError
from multimodal_genre.families.networks.backbones import backbone_network
from multimodal_genre.files import new_run_dir
from multimodal_genre.recipes import Recipe, load_recipe, recipe_names
from multimodal_genre.records import RUN_FILE, Provenance, read_record
from multimodal_genre.runs import finished_run_scores
from multimodal_genre.training import run_model
from multimodal_genre.views import prepare

METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "macro_precision", "macro_recall", "roc_auc_ovr")
FOLDS = 5
RUNS = Path("reports/runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("GTZAN_DIR"), help="dataset (default: $GTZAN_DIR)")
    parser.add_argument("--recipe", nargs="+", default=[], help="recipes to run (default: all, unless --own is given)")
    parser.add_argument(
        "--own",
        nargs="+",
        default=[],
        help="this package's fused configs to run the same way: default, or YAML files; CONFIG=RUN_DIR reuses "
        "a finished 5-fold comparison of CONFIG",
    )
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument(
        "--resume", action="store_true", help="go on with each one's newest unfinished 5-fold folder under reports/runs"
    )
    parser.add_argument(
        "--markdown-only", action="store_true", help="rewrite recipes.md from recipes.json and run nothing"
    )
    args = parser.parse_args()
    if args.data is None and not args.markdown_only:
        parser.error("name the dataset with --data or GTZAN_DIR")

    path = args.out / "benchmarks" / "recipes.json"
    results = json.loads(path.read_text()) if path.is_file() else {"recipes": {}, "own": {}}
    for name in [] if args.markdown_only else args.recipe or ([] if args.own else recipe_names()):
        results["recipes"][name] = run_recipe(load_recipe(name), args.data, args.resume)
        path.write_text(json.dumps(results, indent=2) + "\n")
    for source in [] if args.markdown_only else args.own:
        source, _, finished = source.partition("=")
        finished_dir = Path(finished) if finished else None
        results["own"][Path(source).stem] = run_own(source, args.data, finished_dir, args.resume)
        path.write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "recipes.md").write_text(markdown(results))
    print((args.out / "recipes.md").read_text())


def run_recipe(recipe: Recipe, data: Path, resume: bool = False) -> dict:
    """The published protocol's single split and grouped 5-fold, or why the recipe cannot run here."""
    entry = {
        "title": recipe.info.title,
        "model": recipe.info.model,
        "published_on": recipe.info.published_on,
        "published": recipe.info.published,
        "differences": list(recipe.info.differences),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    backbone = recipe.config.models[recipe.info.model].image.backbone
    if backbone is not None:
        try:
            backbone_network(backbone, (224, 224, 3))
        except ConfigError as error:
            entry["not_run"] = str(error)
            return entry
        finally:
            keras.backend.clear_session()
    options = f"--recipe {recipe.name} --data {data}"
    protocols = run_protocols(recipe.name, recipe.info.model, recipe.config, data, options, recipe, resume=resume)
    return {**entry, **protocols}


def run_own(source: str, data: Path, finished: Path | None = None, resume: bool = False) -> dict:
    """One of this package's fused configs, on the default hold-out split and grouped 5-fold (read
    from ``finished``, a 5-fold comparison of it, where given)."""
    config = load_config(None if source == "default" else source)
    options = f"--models fused --data {data}" + ("" if source == "default" else f" --config {source}")
    return {
        "model": "fused",
        "config": source,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        **run_protocols(Path(source).stem, "fused", config, data, options, finished=finished, resume=resume),
    }


def run_protocols(
    name: str,
    model: str,
    config: Config,
    data: Path,
    options: str,
    recipe: Recipe | None = None,
    finished: Path | None = None,
    resume: bool = False,
) -> dict:
    """``model`` under grouped 5-fold and on the config's single split; the commands that do the same.
    Where the single split is fold 1 itself (a 20% test side, the same seed), fold 1's run is its
    figure, rather than the same training twice."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingImageWarning)
        dataset = load_dataset(data, config.data)
    kfold_command = f"multimodal-genre compare {options} --folds {FOLDS}"
    if finished is None:
        started = sorted(RUNS.glob(f"*-recipe-{name}-{FOLDS}fold"))
        unfinished = [path for path in started if not (path / RUN_FILE).exists()]
        resume = resume and bool(unfinished)
        folds_dir = unfinished[-1] if resume else new_run_dir(RUNS, f"recipe-{name}-{FOLDS}fold")
        cross = run_comparison(
            dataset,
            config,
            folds_dir,
            models=[model],
            folds=FOLDS,
            provenance=Provenance(kfold_command, recipe.info if recipe else None),
            resume=resume,
        )
    else:
        folds_dir, cross = finished, finished_comparison(finished, model, config, dataset)
    split = holdout_split(dataset.labels, dataset.groups, config.split)
    first = kfold_splits(dataset.labels, dataset.groups, dataclasses.replace(config.split, folds=FOLDS))[0]
    command = f"multimodal-genre train {options.replace('--models', '--model')}"
    if all(np.array_equal(getattr(split, side), getattr(first, side)) for side in ("train", "validation", "test")):
        single = folds_dir / "fold1" / model
        scores = cross.scores[cross.scores["fold"] == 1].iloc[0].to_dict()
    else:
        single = new_run_dir(RUNS, f"recipe-{name}")
        provenance = Provenance(command, recipe.info if recipe else None)
        scores = run_model(model, prepare(dataset, config, [model]), split, single, provenance)
    return {
        "published_protocol": {
            "command": command,
            "run": str(single),
            "split": {"train": len(split.train), "validation": len(split.validation), "test": len(split.test)},
            **{metric: round(float(scores[metric]), 6) for metric in METRICS},
        },
        "kfold": {
            "command": kfold_command,
            "run": str(folds_dir),
            "seconds": round(cross.seconds, 1),
            **{
                metric: [
                    round(float(cross.scores[metric].mean()), 6),
                    round(float(cross.scores[metric].std(ddof=1)), 6),
                ]
                for metric in METRICS
            },
        },
    }


def finished_comparison(directory: Path, model: str, config: Config, dataset: GenreDataset) -> ComparisonResult:
    """A finished 5-fold comparison's ``model`` scores, each fold's run checked as a resumed
    comparison checks it (same model, config, dataset and fold)."""
    splits = kfold_splits(dataset.labels, dataset.groups, dataclasses.replace(config.split, folds=FOLDS))
    rows = []
    for index, split in enumerate(splits, start=1):
        kept = finished_run_scores(directory / f"fold{index}" / model, model, config, dataset, split)
        if kept is None:
            raise RunError(f"{directory}: no finished {model} run for fold {index} of {FOLDS}")
        rows.append({"fold": index, "model": model, **kept[0]})
    return ComparisonResult(directory, pd.DataFrame(rows), read_record(directory).seconds)


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
    for name, entry in results["recipes"].items():
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
    for name in recipe_names():
        if name not in results["recipes"]:
            info = load_recipe(name).info
            for metric, value in info.published.items() or [("macro_f1", None)]:
                published = "not published" if value is None else f"{value:.3f}"
                missing = "not measured yet"
                lines.append(f"| {name} | {info.model} | {metric} | {published} | {missing} | {missing} |")
    lines += [
        "",
        "## This package's fused models, the same way",
        "",
        "The default config's own hold-out split (grouped 70/10/20, which is fold 1 of the 5) and grouped 5-fold.",
        "",
        "| config | metric | hold-out split | grouped 5-fold |",
        "|---|---|---|---|",
    ]
    own = sorted(results["own"].items(), key=lambda item: item[0] != "default")
    for name, entry in own:
        for metric in ("accuracy", "balanced_accuracy", "macro_f1"):
            mean, std = entry["kfold"][metric]
            lines.append(f"| {name} | {metric} | {entry['published_protocol'][metric]:.3f} | {mean:.3f} ± {std:.3f} |")
    lines.append("")
    default = results["own"].get("default")
    for name, entry in own:
        lines.append(f"- {name}: `{entry['kfold']['command']}` ({entry['kfold']['seconds']:.0f} s)")
        if default and name != "default":
            gain = entry["kfold"]["macro_f1"][0] - default["kfold"]["macro_f1"][0]
            lines[-1] += f"; grouped 5-fold macro-F1 {gain:+.3f} against the default"
    lines += ["", "## Recipes", ""]
    for name, entry in results["recipes"].items():
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
    with log.to_console():
        main()
