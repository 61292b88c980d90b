"""``train`` (one model on the grouped hold-out split) and ``compare`` (several on the same split or folds).

The training modules (Keras, TensorFlow) are imported when a command trains, not when the
command line starts.
"""

from __future__ import annotations

import argparse
import dataclasses

from multimodal_genre.cli.common import (
    add_data_options,
    add_out_option,
    add_worker_options,
    as_options,
    command_line,
    config_for,
    data_source,
    model_for,
    output_dir,
    recipe_for,
    workers_for,
)
from multimodal_genre.data import holdout_split
from multimodal_genre.errors import RunError
from multimodal_genre.families import FAMILIES
from multimodal_genre.files import writing_into


def add_commands(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train one model on the grouped hold-out split and write its run folder")
    train.add_argument("--model", choices=list(FAMILIES), help="which model to train (default: the recipe's)")
    add_data_options(train, recipes=True)
    add_out_option(train)
    add_worker_options(train)
    train.set_defaults(handler=train_one)

    compare = commands.add_parser(
        "compare", help="train all models on the same split (or K folds) and compare them genre by genre"
    )
    compare.add_argument("--folds", type=int, help="grouped stratified K-fold instead of one hold-out split")
    compare.add_argument(
        "--models", nargs="+", choices=list(FAMILIES), help="models to compare (default: all, or the recipe's)"
    )
    add_data_options(compare, recipes=True)
    add_out_option(compare)
    add_worker_options(compare)
    compare.add_argument(
        "--resume",
        action="store_true",
        help="go on with the unfinished comparison in --out: keep its finished model runs, train the rest",
    )
    compare.set_defaults(handler=compare_models)


def train_one(args: argparse.Namespace) -> int:
    from multimodal_genre.experiments import run_model

    recipe = recipe_for(args)
    model = model_for(args, recipe)
    source = data_source(args.data)
    config = config_for(args, recipe, source)
    workers = workers_for(args)
    dataset = source.load(config)
    split = holdout_split(dataset.labels, dataset.groups, config.split)
    out = output_dir(args.out, args.recipe or model)
    with workers:
        print(f"Training on {workers.where}.")
        run_model(
            model,
            dataset,
            config,
            split,
            out,
            command=command_line(),
            recipe=recipe.info if recipe else None,
            workers=workers,
        )
    print(f"Run folder: {out}")
    return 0


def compare_models(args: argparse.Namespace) -> int:
    from multimodal_genre.experiments import check_resumable, run_comparison

    if args.resume and args.out is None:
        raise RunError("--resume: no --out given: name the folder of the comparison to go on with")
    recipe = recipe_for(args)
    source = data_source(args.data)
    config = config_for(args, recipe, source)
    if args.folds is not None:
        with as_options():
            dataclasses.replace(config.split, folds=args.folds)
    models = args.models or ([recipe.info.model] if recipe else list(config.models))
    workers = workers_for(args)
    dataset = source.load(config)
    name = args.recipe or "compare"
    if args.resume:
        check_resumable(args.out)
    out = args.out if args.resume else output_dir(args.out, name if args.folds is None else f"{name}-{args.folds}fold")
    with writing_into(out), workers:
        print(f"Training on {workers.where}.")
        result = run_comparison(
            dataset,
            config,
            out,
            models=models,
            folds=args.folds,
            command=command_line(),
            recipe=recipe.info if recipe else None,
            resume=args.resume,
            workers=workers,
        )
    print(f"\n{(result.directory / 'comparison.md').read_text()}")
    print(f"Wall time {result.seconds:.0f} s. Results: {result.directory}")
    if result.failed:
        where, why = next(iter(result.failed.items()))
        more = f" and {len(result.failed) - 1} more (comparison.md lists them)" if len(result.failed) > 1 else ""
        raise RunError(f"{where}: {why}{more}; the other models' results are in {result.directory}")
    return 0
