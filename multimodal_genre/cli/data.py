"""``data summary`` (what a dataset folder holds) and ``data synth`` (a synthetic dataset)."""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multimodal_genre import log
from multimodal_genre.cli.common import DEMO_DATA_DIR, add_data_options, config_for, data_source
from multimodal_genre.data.layout import GENRES

if TYPE_CHECKING:
    from multimodal_genre.data import GenreDataset
    from multimodal_genre.data.settings import ImageConfig


def add_commands(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser("data", help="inspect a dataset or write a synthetic one")
    actions = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    summary = actions.add_parser(
        "summary", help="tracks per genre, dropped rows, duplicate groups, image size and load time"
    )
    add_data_options(summary)
    summary.set_defaults(handler=summarise)

    synth = actions.add_parser("synth", help="write a synthetic dataset in the Kaggle GTZAN layout")
    synth.add_argument("--out", type=Path, default=DEMO_DATA_DIR, help=f"folder to write (default: {DEMO_DATA_DIR})")
    synth.add_argument("--tracks-per-genre", type=int, default=30, help="tracks per genre (default: 30)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    synth.set_defaults(handler=synthesise)


def summarise(args: argparse.Namespace) -> int:
    from multimodal_genre.data import MissingImageWarning

    source = data_source(args.data)
    config = config_for(args, None, source)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingImageWarning)  # the summary's Dropped line lists those rows
        dataset = source.load(config)
    log.say(summary_text(dataset, config.data.image, time.perf_counter() - started))
    return 0


def summary_text(dataset: GenreDataset, image_config: ImageConfig, seconds: float) -> str:
    width, height = dataset.source_image_size
    out_height, out_width, channels = dataset.images.shape[1:]
    crop = image_config.crop
    crop_text = f"crop rows {crop.rows[0]}-{crop.rows[1]}, cols {crop.cols[0]}-{crop.cols[1]}" if crop else "no crop"
    duplicates = dataset.duplicate_sets()
    distinct = len(np.unique(dataset.groups))
    lines = ["SYNTHETIC DATA (made by the generator, not music)"] if dataset.synthetic else []
    lines += [
        f"Dataset      {dataset.root}",
        f"Tracks       {len(dataset)} of {len(dataset) + len(dataset.dropped)} CSV rows, "
        f"{len(np.unique(dataset.labels))} genres, {dataset.features.shape[1]} features",
        f"Dropped      {len(dataset.dropped)} (CSV rows without an image)"
        + (f": {', '.join(dataset.dropped)}" if dataset.dropped else ""),
        f"Duplicates   {len(duplicates)} groups of identical tracks "
        f"({distinct} distinct groups over {len(dataset)} tracks)",
        *(f"             {' = '.join(group)}" for group in duplicates),
        f"Images       {width}x{height} PNG -> {out_height}x{out_width}x{channels} float32 in [0, 1] ({crop_text})",
        f"Load time    {seconds:.2f} s (image cache: {dataset.image_cache})",
        f"Fingerprint  {dataset.fingerprint}",
        "",
        "Tracks per genre",
    ]
    counts = np.bincount(dataset.labels, minlength=len(GENRES))
    lines += [f"  {genre:<10} {count:>5}" for genre, count in zip(GENRES, counts, strict=True)]
    return "\n".join(lines)


def synthesise(args: argparse.Namespace) -> int:
    from multimodal_genre.data import write_synthetic_dataset

    root = write_synthetic_dataset(args.out, tracks_per_genre=args.tracks_per_genre, seed=args.seed)
    log.say(f"Wrote a synthetic dataset ({args.tracks_per_genre} tracks per genre, seed {args.seed}) to {root}")
    return 0
