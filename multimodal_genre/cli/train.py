"""``train`` (one model on the grouped hold-out split) and ``compare`` (several on the same split or folds).

The training modules (Keras, TensorFlow) are imported when a command trains, not when the
command line starts.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses

from multimodal_genre import log, progress
from multimodal_genre.cli.common import (
    PROG,
    add_data_options,
    add_out_option,
    add_split_option,
    add_track_option,
    add_verbose_option,
    add_worker_options,
    as_options,
    check_model_names,
    check_tracking,
    command_line,
    config_for,
    data_source,
    model_for,
    output_dir,
    recipe_for,
    training_on,
    workers_for,
)
from multimodal_genre.errors import RunError
from multimodal_genre.families import FAMILIES
from multimodal_genre.files import writing_into


def add_commands(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train one model on the grouped hold-out split and write its run folder")
    train.add_argument(
        "--model",
        metavar="MODEL",
        help=f"which model to train: {', '.join(FAMILIES)} (default: the recipe's)",
    )
    add_data_options(train, recipes=True)
    add_split_option(train)
    add_out_option(train)
    add_worker_options(train)
    add_track_option(train)
    add_verbose_option(train)
    train.set_defaults(handler=train_one)

    compare = commands.add_parser(
        "compare", help="train all models on the same split (or K folds) and compare them genre by genre"
    )
    compare.add_argument("--folds", type=int, help="grouped stratified K-fold instead of one hold-out split")
    compare.add_argument(
        "--models", nargs="+", metavar="MODEL", help="models to compare (default: all the config's, or the recipe's)"
    )
    add_data_options(compare, recipes=True)
    add_split_option(compare)
    add_out_option(compare)
    add_worker_options(compare)
    add_track_option(compare)
    add_verbose_option(compare)
    compare.add_argument(
        "--resume",
        action="store_true",
        help="go on with the unfinished comparison in --out: keep its finished model runs, train the rest",
    )
    compare.set_defaults(handler=compare_models)


def train_one(args: argparse.Namespace) -> int:
    check_model_names([args.model] if args.model else [], "--model")
    source = data_source(args.data)  # argument and path errors come before the heavy imports
    from multimodal_genre.data import split_for
    from multimodal_genre.records import Provenance
    from multimodal_genre.training import run_model
    from multimodal_genre.views import prepare

    check_tracking(args)
    recipe = recipe_for(args)
    model = model_for(args, recipe)
    config = config_for(args, recipe, source)
    workers = workers_for(args)
    dataset = source.load(config)
    split = split_for(dataset, config.split)
    out = output_dir(args.out, args.recipe or model)
    plan = config.bagging.get(model)
    member_progress = progress.job(plan.members, "member") if plan else contextlib.nullcontext()
    with workers, member_progress:
        log.say(training_on(workers))
        provenance = Provenance(command_line(), recipe.info if recipe else None)
        prepared = prepare(dataset, config, [model])
        run_model(model, prepared, split, out, provenance, workers, tensorboard="tensorboard" in args.track)
    log.say(f"Run folder: {out}", f"Its report: {PROG} report {out}", *source.closing(f"train --model {model}"))
    if "mlflow" in args.track:
        from multimodal_genre.tracking import track_model_run, tracking_uri

        log.say(f"MLflow run {track_model_run(out)} at {tracking_uri()}")
    return 0


def compare_models(args: argparse.Namespace) -> int:
    check_model_names(args.models or [], "--models")
    if args.resume and args.out is None:
        raise RunError("--resume: no --out given: name the folder of the comparison to go on with")
    source = data_source(args.data)  # argument and path errors come before the heavy imports
    from multimodal_genre.comparison import check_resumable, run_comparison
    from multimodal_genre.comparison_tables import summary_lines
    from multimodal_genre.records import Provenance

    check_tracking(args)
    recipe = recipe_for(args)
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
        log.say(training_on(workers))
        result = run_comparison(
            dataset,
            config,
            out,
            models=models,
            folds=args.folds,
            provenance=Provenance(command_line(), recipe.info if recipe else None),
            resume=args.resume,
            workers=workers,
            tensorboard="tensorboard" in args.track,
        )
    log.say("", *summary_lines(result, args.folds, config.split.lists), f"Wall time {result.seconds:.0f} s.")
    log.say(f"Results (comparison.md, per_genre_f1.png): {result.directory}", *source.closing("compare"))
    if "mlflow" in args.track:
        from multimodal_genre.tracking import track_comparison, tracking_uri

        run_id = track_comparison(result.directory)
        log.say(f"MLflow run {run_id} at {tracking_uri()}, with a child run per model run")
    if result.failed:
        where, why = next(iter(result.failed.items()))
        more = f" and {len(result.failed) - 1} more (comparison.md lists them)" if len(result.failed) > 1 else ""
        raise RunError(f"{where}: {why}{more}; the other models' results are in {result.directory}")
    return 0
