"""What the commands share: where the dataset is, the config or recipe they run, the output folder,
and command-line wording for the API's own checks."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import warnings
from collections.abc import Iterable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from multimodal_genre import log
from multimodal_genre.data.layout import FEATURES_CSV
from multimodal_genre.errors import ConfigError, DatasetNotFoundError, RunError
from multimodal_genre.families.registry import FAMILIES, did_you_mean
from multimodal_genre.files import LOCK_FILE, check_not_busy, new_run_dir
from multimodal_genre.settings import SettingError

if TYPE_CHECKING:
    from multimodal_genre.config import Config
    from multimodal_genre.data import GenreDataset
    from multimodal_genre.recipes import Recipe
    from multimodal_genre.workers import Workers

PROG = "multimodal-genre"
DEFAULT_DATA_DIR = Path("data/gtzan")
DEMO_DATA_DIR = Path("data/synthetic")
RUNS_DIR = Path("reports/runs")
DEMO_CONFIG = Path(str(files("multimodal_genre.configs") / "demo.yaml"))
HOW_TO_GET_GTZAN = (
    'Get GTZAN from Kaggle ("GTZAN Dataset - Music Genre Classification"): its Data/ folder holds '
    "features_30_sec.csv and images_original/; pass that folder with --data or GTZAN_DIR, or put it at data/gtzan."
)


def add_data_options(parser: argparse.ArgumentParser, recipes: bool = False) -> None:
    parser.add_argument(
        "--data", type=Path, help=f"dataset folder in the Kaggle layout (default: $GTZAN_DIR, else {DEFAULT_DATA_DIR})"
    )
    settings = parser.add_mutually_exclusive_group() if recipes else parser
    settings.add_argument("--config", type=Path, help="YAML file with the settings to change from configs/default.yaml")
    if recipes:
        settings.add_argument("--recipe", help="a published system's settings instead (see: multimodal-genre recipes)")


def add_worker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=int, default=1, help="trainings to run at once on this machine (default: 1)")
    parser.add_argument(
        "--threads",
        type=int,
        help="threads per training (default: the cores divided among the jobs; on a cluster, its workers' threads)",
    )
    parser.add_argument(
        "--cluster", metavar="ADDRESS", help="run the trainings on the Dask cluster at ADDRESS (tcp://host:8786)"
    )


def workers_for(args: argparse.Namespace) -> Workers:
    """Where ``--jobs``, ``--threads`` and ``--cluster`` say the trainings run (checked now, entered later)."""
    from multimodal_genre.workers import Workers

    try:
        return Workers(args.jobs, args.threads, args.cluster)
    except ConfigError as error:
        raise ConfigError(f"--{error}") from None


def training_on(workers: Workers) -> str:
    """The command's first line about its trainings: where they run, on which devices and backend."""
    from multimodal_genre.backend import describe

    return f"Training on {workers.where}: {describe()}."


def add_verbose_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verbose", action="store_true", help="also print a line per epoch of every network's training"
    )


def add_track_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--track",
        choices=["mlflow", "tensorboard"],
        action="append",
        default=[],
        help="mlflow: also log the finished runs to MLflow (MLFLOW_TRACKING_URI, else a local store); "
        "tensorboard: each network's run folder gets its steps for TensorBoard (tensorboard/); repeatable",
    )


def check_tracking(args: argparse.Namespace) -> None:
    """Refuse a tracker that is not installed before anything trains."""
    from multimodal_genre.tracking import check_installed

    for tracker in args.track:
        check_installed(tracker)


def add_split_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--split",
        metavar="LISTS",
        help="train on a training list, stop early on a validation list and test on a test list: fault-filtered "
        "(the artist-filtered GTZAN split papers report on) or a folder of train*, valid* and test* .txt lists",
    )


def add_out_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, help=f"folder for the results, new or empty (default: a new folder under {RUNS_DIR})"
    )


@dataclasses.dataclass(frozen=True)
class DataSource:
    """The dataset folder a command reads: ``--data``, $GTZAN_DIR, data/gtzan, or the synthetic demo."""

    root: Path
    demo: bool  # no dataset was found: the synthetic demo stands in (and the quick demo settings apply)
    notice: str = ""  # why the demo stands in, said once the command's config has been read

    def announce(self, stream: TextIO | None = None) -> None:
        """Say why the synthetic demo stands in, if it does (on ``stream``, default standard output)."""
        if self.notice:
            print(log.wrap(self.notice), end="\n\n", file=stream or sys.stdout)

    def load(self, config: Config) -> GenreDataset:
        """The dataset; the demo's is the package's own, whose row without a picture is there on
        purpose (to show that such a row is left out), so it is left out without a warning."""
        from multimodal_genre.data import MissingImageWarning, load_dataset

        with warnings.catch_warnings():
            if self.demo:
                warnings.simplefilter("ignore", MissingImageWarning)
            return load_dataset(self.root, config.data)

    def closing(self, command: str) -> list[str]:
        """What a command on the demo ends with: the figures are synthetic, and what to run on real data."""
        if not self.demo:
            return []
        return [
            "",
            "These figures are from SYNTHETIC demo data and say nothing about real music.",
            f"On GTZAN (its Kaggle Data/ folder): {PROG} {command} --data path/to/Data",
        ]


def data_source(explicit: Path | None) -> DataSource:
    """The dataset folder to use: ``--data``, else $GTZAN_DIR, else data/gtzan.

    When none is named and data/gtzan does not exist, fall back to the synthetic demo dataset
    (written on first use), with a notice that says so (``DataSource.announce``). A folder named
    explicitly but missing is an error, never silently replaced by synthetic data.
    """
    if explicit is not None:
        return DataSource(_existing(explicit, "--data"), demo=False)
    if os.environ.get("GTZAN_DIR"):
        return DataSource(_existing(Path(os.environ["GTZAN_DIR"]), "GTZAN_DIR"), demo=False)
    if DEFAULT_DATA_DIR.is_dir():
        return DataSource(DEFAULT_DATA_DIR, demo=False)
    if not (DEMO_DATA_DIR / FEATURES_CSV).is_file():
        from multimodal_genre.data import write_synthetic_dataset

        write_synthetic_dataset(DEMO_DATA_DIR)
    notice = (
        f"No GTZAN dataset found: --data not given, GTZAN_DIR not set, {DEFAULT_DATA_DIR} does not exist.\n"
        f"{HOW_TO_GET_GTZAN}\n"
        f"Using the SYNTHETIC demo dataset in {DEMO_DATA_DIR} instead: its figures say nothing about real music."
    )
    return DataSource(DEMO_DATA_DIR, demo=True, notice=notice)


def _existing(path: Path, source: str) -> Path:
    if not path.is_dir():
        raise DatasetNotFoundError(f"{path} (from {source}): no such dataset folder. {HOW_TO_GET_GTZAN}")
    if not (path / FEATURES_CSV).is_file():
        inside = sorted(child for child in path.iterdir() if (child / FEATURES_CSV).is_file())
        if inside:
            raise DatasetNotFoundError(
                f"{path} (from {source}): no {FEATURES_CSV} here; did you mean {inside[0]}, which holds the dataset?"
            )
    return path


def check_model_names(names: Iterable[str], option: str, also: tuple[str, ...] = ()) -> None:
    """A ConfigError for the first name that is no registered model (nor one of ``also``), with the
    name it was probably meant to be: said before anything heavy is imported."""
    known = [*FAMILIES, *also]
    for name in names:
        if name not in known:
            hint = did_you_mean(name, known)
            raise ConfigError(f"{option} {name!r}: no such model{hint} (known: {', '.join(known)})")


def recipe_for(args: argparse.Namespace) -> Recipe | None:
    """The ``--recipe`` named, read once per command."""
    from multimodal_genre.recipes import load_recipe

    return load_recipe(args.recipe) if getattr(args, "recipe", None) else None


def config_for(args: argparse.Namespace, recipe: Recipe | None, source: DataSource) -> Config:
    """The recipe's config with ``--recipe``, else the defaults changed by ``--config``; on the
    synthetic demo, with neither given, the quick demo settings (said so). ``--split`` replaces its
    split by listed sides. Read and checked before the demo's notice: a config error comes first."""
    from multimodal_genre.config import load_config
    from multimodal_genre.data.lists import list_folder

    quick = recipe is None and args.config is None and source.demo
    config = recipe.config if recipe is not None else load_config(DEMO_CONFIG if quick else args.config)
    lists = getattr(args, "split", None)
    if lists is not None:
        list_folder(lists, "--split")  # a folder that is not there fails now, before the dataset loads
        config = dataclasses.replace(config, split=dataclasses.replace(config.split, lists=lists))
    source.announce()
    if quick:
        log.say(f"Quick demo settings ({DEMO_CONFIG.name}): small models, 32-pixel images, short training.\n")
    return config


def model_for(args: argparse.Namespace, recipe: Recipe | None) -> str:
    """``--model``, else the recipe's model."""
    if args.model:
        return args.model
    if recipe is None:
        raise ConfigError(f"{args.command} needs --model (or --recipe NAME)")
    return recipe.info.model


def output_dir(out: Path | None, name: str) -> Path:
    """``--out`` if it is new or empty (earlier results are never overwritten), else a fresh run folder."""
    if out is None:
        return new_run_dir(RUNS_DIR, name)
    if out.is_dir():
        check_not_busy(out)
    if out.exists() and (not out.is_dir() or any(child.name != LOCK_FILE for child in out.iterdir())):
        raise RunError(f"{out}: exists and is not an empty folder; choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    return out


@contextlib.contextmanager
def as_options() -> Iterator[None]:
    """Word the API's checks of values given on the command line as its options: a settings key
    ``study_name`` is the option ``--study-name``."""
    try:
        yield
    except SettingError as error:
        raise ConfigError(f"--{error.key.replace('_', '-')} {error.problem}") from None


def command_line() -> str:
    return " ".join([PROG, *sys.argv[1:]])
