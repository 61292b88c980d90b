"""Where the seconds go, and how close training runs to the machine's floor.

Three parts, each writing its section of reports/benchmarks/speed.json (speed.md is made from it):

    python benchmarks/speed.py floor   --data ../shared/gtzan   # one training step at its best vs a real epoch
    python benchmarks/speed.py profile --data ../shared/gtzan   # the phases of one fused training
    python benchmarks/speed.py compare --data ../shared/gtzan --old /tmp/old --jobs 2
        # `compare --folds 5`: the code checked out at --old (a git worktree, installed in its own .venv:
        # python3 -m venv /tmp/old/.venv && /tmp/old/.venv/bin/pip install -e "/tmp/old[cpu]")
        # against this one, run side by side
    python benchmarks/speed.py compare --data ../shared/gtzan --old /tmp/old --folds 0 --rounds 1
        # the default `compare` (one grouped split), old then new from empty caches, one at a time
    python benchmarks/speed.py parallel --data ../shared/gtzan  # --jobs, --threads and a Dask LocalCluster
    python benchmarks/speed.py recipe --data ../shared/gtzan    # the fused model and cnn-mlp-hybrid, one fold
    KERAS_BACKEND=jax python benchmarks/speed.py backend --data ../shared/gtzan
        # the fused network's epochs on the Keras backend of the environment (run once per backend)

Timings on a shared machine move by tens of percent between runs; compare figures from one run only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from common import provenance

RESULTS = Path("reports/benchmarks/speed.json")
COMMAND = "python benchmarks/speed.py"  # each entry records its own part and options
NETWORKS = ("fused", "cnn", "mlp")
BATCHES = (32, 64, 128)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["floor", "profile", "compare", "parallel", "recipe", "backend", "markdown"])
    parser.add_argument("--data", type=Path, default=os.environ.get("GTZAN_DIR"), help="dataset (default: $GTZAN_DIR)")
    parser.add_argument("--old", type=Path, help="compare: a checkout of the code to measure against")
    parser.add_argument(
        "--old-python", type=Path, help="compare: the interpreter that imports --old (default: OLD/.venv)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="compare: --jobs of both runs")
    parser.add_argument(
        "--rounds", type=int, default=0, help="compare: old then new, this many times, one at a time (0: side by side)"
    )
    parser.add_argument("--folds", type=int, default=5, help="compare: grouped folds")
    args = parser.parse_args()
    if args.part != "markdown" and args.data is None:
        parser.error("name the dataset with --data or GTZAN_DIR")
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"command": COMMAND, "entries": {}}
    if args.part != "markdown":
        started = time.perf_counter()
        section = {
            "floor": floor,
            "profile": profile,
            "compare": compare,
            "parallel": parallel,
            "recipe": recipe,
            "backend": backend,
        }[args.part](args)
        section.update(provenance())  # date, commit, processor and the command as typed
        section["seconds"] = round(time.perf_counter() - started, 1)
        results["entries"][_section_name(args, section)] = section
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    Path("reports/benchmarks/speed.md").write_text(markdown(results["entries"]))


def _section_name(args: argparse.Namespace, section: dict[str, Any]) -> str:
    """Where a part's figures go in speed.json: the default comparison (one split) apart from K folds."""
    if args.part == "backend":
        return f"backend-{section['backend']}"
    if args.part == "compare" and not args.folds:
        return "compare-holdout"
    return args.part


def load(args: argparse.Namespace):
    from multimodal_genre.config import load_config
    from multimodal_genre.data import MissingImageWarning, kfold_splits, load_dataset
    from multimodal_genre.views import prepare

    config = load_config()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingImageWarning)
        dataset = load_dataset(args.data, config.data)
    prepared = prepare(dataset, config, list(config.models))  # sources resolved, views computed
    dataset, config = prepared.dataset, prepared.config
    return config, dataset, kfold_splits(dataset.labels, dataset.groups, config.split)[0]


# --- the floor: one training step at its best ------------------------------------------------------


def floor(args: argparse.Namespace) -> dict[str, Any]:
    """Per network: the shortest epoch one training step allows (graph mode or XLA, data in memory,
    the best batch size), and the real epoch of the package's training loop on the same rows."""
    config, dataset, split = load(args)
    rows = len(split.train)
    result: dict[str, Any] = {"train_rows": rows, "threads": _threads(), "networks": {}}
    for name in NETWORKS:
        steps = {}
        for jit in (False, True):
            for batch in BATCHES:
                steps[f"{'xla' if jit else 'graph'}-{batch}"] = _step_seconds(config, dataset, name, batch, jit)
        per_example = {key: value / int(key.split("-")[1]) for key, value in steps.items() if value is not None}
        best = min(per_example, key=per_example.get)
        epochs = _real_epochs(config, dataset, split, name)
        real = statistics.median(epochs[1:])
        result["networks"][name] = {
            "step_seconds": steps,
            "best": best,
            "floor_epoch_seconds": round(per_example[best] * rows, 3),
            "real_epoch_seconds": round(real, 3),
            "first_epoch_seconds": round(epochs[0], 3),
            "ratio": round(real / (per_example[best] * rows), 2),
        }
        print(name, result["networks"][name], flush=True)
    return result


def _threads() -> int:
    from multimodal_genre.workers import threads

    return threads()


def _step_seconds(config, dataset, name: str, batch: int, jit: bool, steps: int = 20) -> float | None:
    """Seconds of one optimizer step on a batch already in memory; None where XLA cannot compile it.
    XLA has no kernel for the time-shift augmentation (an image transform), so it runs without it."""
    import keras
    import tensorflow as tf

    from multimodal_genre.families.networks.build import build_network

    settings = config.models[name]
    if jit and settings.image is not None:
        settings = dataclasses.replace(settings, image=dataclasses.replace(settings.image, time_shift=0.0))
    keras.backend.clear_session()
    model = build_network(name, settings, dataset.images.shape[1:], dataset.features[:batch], seed=0)
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    loss = keras.losses.SparseCategoricalCrossentropy()
    inputs = {
        key: tf.constant(dataset.images[:batch] if key == "image" else dataset.features[:batch]) for key in model.input
    }
    labels = tf.constant(dataset.labels[:batch])

    @tf.function(jit_compile=jit)
    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            output = model(inputs, training=True)
            value = loss(labels, output["genre"] if isinstance(output, dict) else output)
        optimizer.apply(tape.gradient(value, model.trainable_variables), model.trainable_variables)
        return value

    try:
        for _ in range(3):
            step().numpy()
    except tf.errors.InvalidArgumentError:
        return None
    started = time.perf_counter()
    for _ in range(steps):
        step()
    step().numpy()
    return round((time.perf_counter() - started) / (steps + 1), 5)


def _real_epochs(config, dataset, split, name: str, epochs: int = 8) -> list[float]:
    """Wall seconds of each epoch (validation included) of the package's own training, fixed length."""
    from multimodal_genre.families import family
    from multimodal_genre.families.base import fit_split

    settings = config.models[name]
    settings = dataclasses.replace(settings, training=dataclasses.replace(settings.training, epochs=epochs))
    timer = _epoch_timer()
    fit_split(family(name), settings, dataset, split, config.seed, [timer])
    return timer.seconds


def _epoch_timer():
    """A Keras callback timing each epoch and its validation (defined here: Keras is imported by the
    parts that need it, not at start)."""
    import keras

    class Timer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self.validation: list[float] = []
            self.fit_started = self.epoch_started = self.test_started = 0.0

        def on_train_begin(self, logs=None) -> None:
            self.fit_started = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None) -> None:
            self.epoch_started = time.perf_counter()

        def on_test_begin(self, logs=None) -> None:
            self.test_started = time.perf_counter()

        def on_test_end(self, logs=None) -> None:
            self.validation.append(time.perf_counter() - self.test_started)

        def on_epoch_end(self, epoch, logs=None) -> None:
            self.seconds.append(time.perf_counter() - self.epoch_started)

    return Timer()


def backend(args: argparse.Namespace) -> dict[str, Any]:
    """The fused network's real epochs on this environment's Keras backend (KERAS_BACKEND)."""
    import keras

    config, dataset, split = load(args)
    epochs = _real_epochs(config, dataset, split, "fused")
    return {
        "backend": keras.backend.backend(),
        "first_epoch_seconds": round(epochs[0], 3),
        "median_epoch_seconds": round(statistics.median(epochs[1:]), 3),
    }


# --- the profile of one fused training -------------------------------------------------------------


def profile(args: argparse.Namespace) -> dict[str, Any]:
    """The phases of one default fused training on fold 1 of 5, as the package runs it."""
    started = time.perf_counter()
    import keras  # noqa: F401 - what importing the training stack costs

    from multimodal_genre.families.networks import fitting as training

    phases: dict[str, float] = {"import the training stack": time.perf_counter() - started}
    mark = time.perf_counter()
    config, dataset, split = load(args)
    phases["load the dataset (cached arrays)"] = time.perf_counter() - mark

    timer = _epoch_timer()
    settle = training.settle_batch_norm
    settled: list[float] = []

    def timed_settle(*call_args, **kwargs):
        begun = time.perf_counter()
        settle(*call_args, **kwargs)
        settled.append(time.perf_counter() - begun)

    training.settle_batch_norm = timed_settle
    mark = time.perf_counter()
    from multimodal_genre.families import family
    from multimodal_genre.families.base import fit_split
    from multimodal_genre.seen import unseen_probabilities

    trained = fit_split(family("fused"), config.models["fused"], dataset, split, config.seed, [timer])
    fit_total = time.perf_counter() - mark
    training.settle_batch_norm = settle
    phases["build and compile"] = timer.fit_started - mark
    phases["first epoch (tracing the graph)"] = timer.seconds[0] - timer.validation[0]
    phases[f"other {len(timer.seconds) - 1} epochs: training steps"] = sum(timer.seconds[1:]) - sum(
        timer.validation[1:]
    )
    phases[f"all {len(timer.seconds)} epochs: validation"] = sum(timer.validation)
    phases["batch-norm settling"] = settled[0]
    phases["rest of fit (callbacks, restoring the best weights, history)"] = (
        fit_total - phases["build and compile"] - sum(timer.seconds) - settled[0]
    )
    mark = time.perf_counter()
    probabilities = unseen_probabilities(trained, dataset, split.test)
    phases["predict the test side"] = time.perf_counter() - mark
    mark = time.perf_counter()
    from multimodal_genre.records import SplitRecord
    from multimodal_genre.runs import write_model_run

    with tempfile.TemporaryDirectory() as scratch:
        write_model_run(
            Path(scratch), trained, config, dataset, split, probabilities, SplitRecord.of(split, 42, (1, 5))
        )
    phases["write the run folder (model, reports, plots)"] = time.perf_counter() - mark
    return {
        "epochs": len(timer.seconds),
        "kept": trained.kept,
        "phases_seconds": {key: round(value, 2) for key, value in phases.items()},
        "total_seconds": round(time.perf_counter() - started, 1),
    }


# --- compare --folds 5: old code against new ---------------------------------------------------------


def compare(args: argparse.Namespace) -> dict[str, Any]:
    """The same `compare [--folds N] --jobs J` of the default models by the old checkout and by this
    code, each from an empty cache (the new code's first pass over the pictures included); wall and
    CPU seconds of each. Side by side (both started together, so that both meet the same load on a
    shared machine), or with ``--rounds R`` one after the other, old then new, R times."""
    if args.old is None:
        raise SystemExit("compare needs --old, a checkout of the code to measure against (git worktree add)")
    pythons = {"old": str(args.old_python or args.old / ".venv" / "bin" / "python"), "new": sys.executable}
    checkouts = {"new": Path(__file__).resolve().parent.parent, "old": args.old.resolve()}
    for arm, code in checkouts.items():
        _check_imports(pythons[arm], code)
    options = [*(["--folds", str(args.folds)] if args.folds else []), "--jobs", str(args.jobs)]
    old_commit = subprocess.run(
        ["git", "rev-parse", "--short=7", "HEAD"], cwd=args.old, capture_output=True, text=True, check=False
    ).stdout.strip()
    result: dict[str, Any] = {"folds": args.folds or None, "jobs": args.jobs, "old": str(args.old), "arms": {}}
    result["old_commit"] = old_commit or "unknown"
    with tempfile.TemporaryDirectory() as scratch:

        def start(arm: str, run: str) -> tuple[subprocess.Popen, Path]:
            out = Path(scratch) / run
            command = [pythons[arm], "-m", "multimodal_genre", "compare", "--data", str(args.data.resolve()), *options]
            env = {**os.environ, "MULTIMODAL_GENRE_CACHE": str(Path(scratch) / f"cache-{run}")}
            process = subprocess.Popen(
                [*command, "--out", str(out)], cwd=checkouts[arm], env=env, stdout=subprocess.DEVNULL
            )
            return process, out

        if args.rounds:
            for round_ in range(1, args.rounds + 1):
                for arm in pythons:
                    started = time.perf_counter()
                    process, out = start(arm, f"{arm}{round_}")
                    _, status, usage = os.wait4(process.pid, 0)
                    _check_status(arm, status)
                    found = _arm(out, time.perf_counter() - started, usage.ru_utime + usage.ru_stime, options)
                    result["arms"][f"{arm} {round_}"] = found
                    print(arm, round_, found, flush=True)
        else:
            running, started = {}, time.perf_counter()
            for arm in pythons:
                process, out = start(arm, arm)
                running[process.pid] = (arm, out)
            while running:
                pid, status, usage = os.wait4(-1, 0)  # whichever ends first, with its own CPU seconds
                arm, out = running.pop(pid)
                _check_status(arm, status)
                result["arms"][arm] = _arm(out, time.perf_counter() - started, usage.ru_utime + usage.ru_stime, options)
                print(arm, result["arms"][arm], flush=True)
    if args.rounds:
        result["ratio"] = _ratios(result["arms"])
    else:
        new, old = result["arms"]["new"], result["arms"]["old"]
        result["speedup"] = round(old["wall_seconds"] / new["wall_seconds"], 2)
        result["cpu_speedup"] = round(old["cpu_seconds"] / new["cpu_seconds"], 2)
    return result


def _check_status(arm: str, status: int) -> None:
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"the {arm} code's compare failed (exit status {code})")


def _ratios(arms: dict[str, Any]) -> dict[str, float]:
    """New over old, of the wall and the CPU seconds (summed over the rounds): below 1 is faster."""
    total = {
        (side, kind): sum(found[f"{kind}_seconds"] for name, found in arms.items() if name.split()[0] == side)
        for side in ("old", "new")
        for kind in ("wall", "cpu")
    }
    return {kind: round(total["new", kind] / total["old", kind], 3) for kind in ("wall", "cpu")}


def _check_imports(python: str, code: Path) -> None:
    """An editable install's import hook outranks PYTHONPATH, so each arm runs its own interpreter
    in its own checkout; this makes sure that it imports the code it stands for."""
    found = subprocess.run(
        [python, "-c", "import multimodal_genre; print(multimodal_genre.__file__)"],
        cwd=code, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if found.returncode != 0 or not Path(found.stdout.strip()).resolve().is_relative_to(code):
        raise SystemExit(f"{python} does not import multimodal_genre from {code}: {found.stdout or found.stderr}")


def _arm(out: Path, wall: float, cpu: float, options: list[str]) -> dict[str, Any]:
    folds = pd.read_csv(out / "folds.csv") if (out / "folds.csv").is_file() else pd.read_csv(out / "comparison.csv")
    trainings = []
    for run in sorted([*out.glob("fold*/*/run.json"), *out.glob("*/run.json")]):
        record = json.loads(run.read_text())
        trainings.append({"model": record["model"], **record["training"]})
    table = pd.DataFrame(trainings)
    return {
        "options": options,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "macro_f1": folds.groupby("model")["macro_f1"].mean().round(4).to_dict(),
        "macro_f1_std": folds.groupby("model")["macro_f1"].std(ddof=1).round(4).to_dict(),
        "training_seconds": table.groupby("model")["seconds"].sum().round(1).to_dict(),
        "steps": table.groupby("model")["ran"].sum().to_dict(),
    }


# --- parallel trainings: the same figures, in less time ----------------------------------------------

# Short trainings, so that every way of running them fits in minutes: the point is equal figures.
SHORT = {"models": {name: {"training": {"epochs": 4}} for name in NETWORKS} | {"xgboost": {"max_rounds": 100}}}


def parallel(args: argparse.Namespace) -> dict[str, Any]:
    """`compare --folds N` of short trainings: one job with every core, one job with one thread, two
    jobs, and a Dask LocalCluster of two one-thread workers; wall times, and whether figures match."""
    import yaml
    from distributed import LocalCluster

    ways = {
        "--jobs 1 (all cores)": [],
        "--jobs 1 --threads 1": ["--threads", "1"],
        "--jobs 2": ["--jobs", "2"],
    }
    result: dict[str, Any] = {"folds": args.folds, "config": SHORT, "ways": {}}
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "short.yaml"
        config.write_text(yaml.safe_dump(SHORT))
        base = [sys.executable, "-m", "multimodal_genre", "compare", "--data", str(args.data)]
        base += ["--folds", str(args.folds), "--config", str(config)]
        with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
            ways["Dask LocalCluster, 2 workers x 1 thread"] = ["--cluster", cluster.scheduler_address]
            for way, options in ways.items():
                out = Path(scratch) / str(len(result["ways"]))
                started = time.perf_counter()
                subprocess.run([*base, "--out", str(out), *options], check=True, stdout=subprocess.DEVNULL)
                folds = pd.read_csv(out / "folds.csv")
                result["ways"][way] = {
                    "wall_seconds": round(time.perf_counter() - started, 1),
                    "macro_f1": folds.groupby("model", sort=False)["macro_f1"].mean().round(4).to_dict(),
                    "folds_csv": (out / "folds.csv").read_text(),
                }
                print(way, result["ways"][way]["wall_seconds"], result["ways"][way]["macro_f1"], flush=True)
    one_thread = result["ways"]["--jobs 1 --threads 1"]["folds_csv"]
    for row in result["ways"].values():
        row["same_figures_as_one_thread"] = row.pop("folds_csv") == one_thread
    return result


# --- the default fused model against the published notebook's network --------------------------------


def recipe(args: argparse.Namespace) -> dict[str, Any]:
    """Fold 1 of 5 (split seed 42): the default fused model and the cnn-mlp-hybrid recipe, each with
    its own data settings, on the same test tracks."""
    from multimodal_genre.config import load_config
    from multimodal_genre.data import MissingImageWarning, kfold_splits, load_dataset
    from multimodal_genre.families import family
    from multimodal_genre.families.base import fit_split
    from multimodal_genre.recipes import load_recipe
    from multimodal_genre.seen import score_unseen
    from multimodal_genre.views import prepare

    hybrid = load_recipe("cnn-mlp-hybrid")
    systems = {"default fused": (load_config(), "fused"), "cnn-mlp-hybrid": (hybrid.config, hybrid.info.model)}
    result: dict[str, Any] = {"systems": {}}
    for label, (config, name) in systems.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingImageWarning)
            dataset = load_dataset(args.data, config.data)
        prepared = prepare(dataset, config, [name])
        dataset, config = prepared.dataset, prepared.config
        split = kfold_splits(dataset.labels, dataset.groups, dataclasses.replace(config.split, folds=5))[0]
        trained = fit_split(family(name), config.models[name], dataset, split, config.seed)
        result["systems"][label] = {
            "macro_f1": round(score_unseen(trained, dataset, split.test)["macro_f1"], 4),
            "training_seconds": round(trained.seconds, 1),
            "epochs": len(trained.history),
            "image": list(dataset.images.shape[1:]),
            "test_tracks": len(split.test),
        }
        print(label, result["systems"][label], flush=True)
    return result


# --- the report -------------------------------------------------------------------------------------


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Speed: where the seconds go",
        "",
        "Made by `benchmarks/speed.py` (see its docstring); figures in speed.json.",
        "",
        "<!-- figures: speed.json -->",
        "",
    ]
    if "compare-holdout" in results:
        lines += _rounds_lines(results["compare-holdout"])
    if "compare" in results:
        lines += _compare_lines(results["compare"])
    if "profile" in results:
        lines += _profile_lines(results["profile"])
    if "floor" in results:
        lines += _floor_lines(results["floor"])
    if "parallel" in results:
        lines += _parallel_lines(results["parallel"])
    if "recipe" in results:
        lines += _recipe_lines(results["recipe"])
    backends = {key: value for key, value in results.items() if key.startswith("backend-")}
    if backends:
        lines += _backend_lines(backends)
    return "\n".join(lines) + "\n"


def _header(section: dict[str, Any]) -> list[str]:
    where = section
    return [f"{where['date']}, {where['cpus']} CPUs, {where['platform']}. Command: `{section['command']}`.", ""]


def _compare_lines(section: dict[str, Any]) -> list[str]:
    new, old = section["arms"]["new"], section["arms"]["old"]
    lines = [f"## `compare --folds {section['folds']}`: old code against new, one run", "", *_header(section)]
    lines += [
        f"Wall time: old {old['wall_seconds']:.0f} s, new (`{' '.join(new['options'])}`) {new['wall_seconds']:.0f} s: "
        f"**{section['speedup']:.2f}x**.{_cpu_sentence(section)}",
        "",
        "| model | old macro-F1 | new macro-F1 | old training s | new training s | old epochs/rounds | new |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys([*old["macro_f1"], *new["macro_f1"]]):
        pairs = zip(_model_cells(old, name), _model_cells(new, name), strict=True)
        lines.append("| " + " | ".join([name, *(cell for pair in pairs for cell in pair)]) + " |")
    lines += [
        "",
        "The same model name may be another model in each: see the config of each version. Training seconds "
        "are summed over folds as each run folder records them; with parallel jobs they overlap, so they add "
        "up to more than the wall time.",
        "",
    ]
    return lines


def _rounds_lines(section: dict[str, Any]) -> list[str]:
    """The default comparison (one grouped split), old then new from empty caches, round by round."""
    lines = ["## The default `compare` from an empty cache: old code against new", "", *_header(section)]
    lines += [
        f"Old: the checkout `{section['old']}`{_at(section)}. Each run from an empty cache, one at a time, "
        f"old then new, `{' '.join(next(iter(section['arms'].values()))['options'])}`. New over old: wall "
        f"**{section['ratio']['wall']:.2f}**, CPU {section['ratio']['cpu']:.2f} (summed over the rounds).",
        "",
        "| run | wall s | CPU s | macro-F1 by model |",
        "|---|---|---|---|",
    ]
    for name, found in section["arms"].items():
        scores = ", ".join(f"{model} {value:.3f}" for model, value in found["macro_f1"].items())
        lines.append(f"| {name} | {found['wall_seconds']:.0f} | {found['cpu_seconds']:.0f} | {scores} |")
    return [*lines, ""]


def _at(section: dict[str, Any]) -> str:
    """`` at 94744aa``: the old checkout's commit, where the section recorded it."""
    return f" at {section['old_commit']}" if "old_commit" in section else ""


def _cpu_sentence(section: dict[str, Any]) -> str:
    """Side-by-side runs record CPU seconds; runs made one after the other before them did not."""
    if "cpu_speedup" not in section:
        return " The two ran one after the other."
    old, new = section["arms"]["old"]["cpu_seconds"], section["arms"]["new"]["cpu_seconds"]
    return (
        f" The two ran side by side, each from an empty cache. CPU time: old {old:.0f} s, new {new:.0f} s: "
        f"**{section['cpu_speedup']:.2f}x**."
    )


def _model_cells(arm: dict[str, Any], name: str) -> tuple[str, str, str]:
    if name not in arm["macro_f1"]:
        return "-", "-", "-"
    figure = f"{arm['macro_f1'][name]:.3f} ± {arm['macro_f1_std'][name]:.3f}"
    return figure, f"{arm['training_seconds'][name]:.0f}", str(arm["steps"][name])


def _profile_lines(section: dict[str, Any]) -> list[str]:
    total = section["total_seconds"]
    lines = ["## One default fused training (fold 1 of 5), phase by phase", "", *_header(section)]
    lines += [
        f"{section['epochs']} epochs, the best ({section['kept']}) kept.",
        "",
        "| phase | seconds | share |",
        "|---|---|---|",
    ]
    for phase, seconds in section["phases_seconds"].items():
        lines.append(f"| {phase} | {seconds:.1f} | {seconds / total:.0%} |")
    return [*lines, f"| total | {total:.1f} | |", ""]


def _floor_lines(section: dict[str, Any]) -> list[str]:
    lines = ["## The floor: one training step at its best against a real epoch", "", *_header(section)]
    lines += [
        f"{section['train_rows']} training rows, {section['threads']} threads. Step: a plain `tf.function` "
        "optimizer step on a batch already in memory, in graph mode or compiled by XLA (XLA without the time-shift "
        "augmentation, which it cannot compile), best batch size. Real: the median epoch (validation included) of the "
        "package's own training.",
        "",
        "| network | best step | floor epoch s | real epoch s | ratio | first epoch s | XLA step at batch 32 / graph |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in section["networks"].items():
        steps = row["step_seconds"]
        xla = steps.get("xla-32")
        ratio = f"{xla / steps['graph-32']:.1f}x" if xla else "cannot compile"
        lines.append(
            f"| {name} | {row['best']} | {row['floor_epoch_seconds']:.2f} | {row['real_epoch_seconds']:.2f} | "
            f"{row['ratio']:.2f} | {row['first_epoch_seconds']:.2f} | {ratio} |"
        )
    return [*lines, ""]


def _parallel_lines(section: dict[str, Any]) -> list[str]:
    lines = [f"## Parallel trainings: `compare --folds {section['folds']}`, short trainings", "", *_header(section)]
    lines += [
        f"Every network trains 4 epochs, XGBoost 100 rounds (`{json.dumps(section['config'])}`): the point is the "
        "figures, which must not depend on where the trainings run, only on the threads each one gets.",
        "",
        "| how | wall s | fused | cnn | mlp | xgboost | folds.csv identical to --threads 1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for way, row in section["ways"].items():
        scores = " | ".join(f"{row['macro_f1'][name]:.4f}" for name in ("fused", "cnn", "mlp", "xgboost"))
        lines.append(
            f"| {way} | {row['wall_seconds']:.0f} | {scores} | {'yes' if row['same_figures_as_one_thread'] else 'no'} |"
        )
    return [*lines, ""]


def _recipe_lines(section: dict[str, Any]) -> list[str]:
    lines = ["## One fold side by side: the default fused model and the cnn-mlp-hybrid recipe", "", *_header(section)]
    lines += ["| system | image | epochs | training s | macro-F1 |", "|---|---|---|---|---|"]
    for label, row in section["systems"].items():
        image = "x".join(str(side) for side in row["image"])
        lines.append(f"| {label} | {image} | {row['epochs']} | {row['training_seconds']:.0f} | {row['macro_f1']:.3f} |")
    return [*lines, "", f"Fold 1 of 5, split seed 42: the same {row['test_tracks']} test tracks for both.", ""]


def _backend_lines(sections: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["## Keras backends: the default fused network's epoch", ""]
    lines += ["| backend | median epoch s | first epoch s | measured | command |", "|---|---|---|---|---|"]
    for section in sections.values():
        lines.append(
            f"| {section['backend']} | {section['median_epoch_seconds']:.2f} | {section['first_epoch_seconds']:.2f} | "
            f"{section['date']} | `{section['command']}` |"
        )
    return [*lines, ""]


if __name__ == "__main__":
    main()
