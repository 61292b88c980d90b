"""Fine-tuning musicnn's mid-end on cached front-end activations of the picture route: an attempt at
a network that reaches the SVM (benchmarks/fused_attempts.py lists the others).

musicnn's front end (its timbral and temporal filters) is nineteen twentieths of its cost; its
mid-end, three 7-frame convolutions over the front end's 561 features, is where it combines them.
Each track's front-end activations (10 evenly spaced 3 s patches, float16) are computed once by the
picture route and cached, so a network can train the mid-end from ``midend2`` or ``midend3`` on
(the layers before stay as pre-trained) at a few seconds an epoch. The network: the mid-end's pooled
features of each patch (mean and max over time, 1506), pooled over the patches by their mean and
their max, standardised, a dense layer of 256 beside the fused network's tabular branch on the
feature row, into a softmax; trained on each fold's training rows, stopped early on its validation
rows. The same network with the mid-end frozen is the baseline it must beat.

    python benchmarks/midend_finetune.py --data ../shared/gtzan            # every variant, seeds 42 and 7
    python benchmarks/midend_finetune.py --data ../shared/gtzan --only midend3

The results join reports/benchmarks/fused_attempts.json, and fused_attempts.md is made again.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
from common import add_data_option, parse_with_data, quiet_dataset
from fused_attempts import SEEDS, save_result

from multimodal_genre import log
from multimodal_genre.backend import load_keras
from multimodal_genre.config import load_config
from multimodal_genre.data import GenreDataset, Split, kfold_splits
from multimodal_genre.data.cache import default_cache_dir
from multimodal_genre.data.images import open_image
from multimodal_genre.evaluation import score
from multimodal_genre.musicnn.embeddings import RMS_MEAN, RMS_VAR, TRAINABLE_PATCHES, Clip, clip_patches
from multimodal_genre.records import portable_command

VARIANTS = {"frozen": None, "midend3": 3, "midend2": 2}  # name -> the first mid-end layer that trains
PATCHES = TRAINABLE_PATCHES
FOLDS = 5
FRONT = 561  # the front end's features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser)
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), help="variants to run (default: all)")
    args = parse_with_data(parser)
    load_keras()
    config = load_config()
    dataset = quiet_dataset(args.data, config.data)
    fronts = front_end_activations(dataset)
    for name, first in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        found = {"model": "musicnn mid-end + MLP", "about": _about(first), "config": "benchmarks/midend_finetune.py"}
        found["command"] = portable_command(["python", *sys.argv])
        for seed in SEEDS:
            split_config = dataclasses.replace(config.split, seed=seed, folds=FOLDS)
            started, scores = time.perf_counter(), []
            for index, split in enumerate(kfold_splits(dataset.labels, dataset.groups, split_config), start=1):
                probabilities = fit_and_predict(dataset, fronts, split, first, seed=0)
                scores.append(score(dataset.labels[split.test], probabilities)["macro_f1"])
                log.say(f"{name} seed {seed} fold {index}/{FOLDS}: macro-F1 {scores[-1]:.3f}")
            found[f"seed{seed}"] = {
                "mean": round(float(np.mean(scores)), 4),
                "std": round(float(np.std(scores, ddof=1)), 4),
                "folds": [round(float(value), 4) for value in scores],
                "seconds": round(time.perf_counter() - started, 1),
            }
        found["mean_of_seeds"] = round(float(np.mean([found[f"seed{seed}"]["mean"] for seed in SEEDS])), 4)
        save_result(f"midend-{name}", found)


def _about(first: int | None) -> str:
    if first is None:
        return "musicnn's mid-end frozen over cached front-end activations, the baseline of the two below"
    return f"musicnn's mid-end fine-tuned from midend{first}_conv on cached front-end activations"


def front_end_activations(dataset: GenreDataset) -> np.ndarray:
    """(tracks, 10, 187, 561) float16: each track's front-end activations by the picture route, from
    the cache (about 2 GB for GTZAN) or computed once (a pass over the pictures)."""
    path = default_cache_dir() / f"musicnn-front-end-{dataset.fingerprint}-{PATCHES}patches.npy"
    if path.is_file():
        return np.load(path, mmap_mode="r")
    import keras

    network = _network()
    front = keras.Model(network.input, network.get_layer("front_end").output)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float16, shape=(len(dataset), PATCHES, 187, FRONT))
    tracks = zip(dataset.pictures, dataset.lengths, dataset.features, strict=True)
    for row, (picture, length, features) in enumerate(tracks):
        clip = Clip(int(length), float(features[RMS_MEAN]), float(features[RMS_VAR]))
        out[row] = front.predict_on_batch(clip_patches(open_image(Path(picture)), clip, PATCHES)).astype(np.float16)
    out.flush()
    del out
    partial.rename(path)
    return np.load(path, mmap_mode="r")


def _network():
    from multimodal_genre.musicnn.network import pretrained

    return pretrained("musicnn", "msd")


def fit_and_predict(
    dataset: GenreDataset, fronts: np.ndarray, split: Split, first: int | None, seed: int
) -> np.ndarray:
    """The test probabilities of the network trained on ``split``'s training rows."""
    import keras

    from multimodal_genre.families.networks.build import tabular_branch
    from multimodal_genre.families.networks.settings import TabularBranchConfig

    keras.utils.set_random_seed(seed)
    tail = _tail(first)
    inputs = keras.Input((PATCHES, 187, FRONT), name="front_end")
    per_patch = _PerPatch(tail)(inputs)  # (batch, patches, 1506)
    pooled = keras.layers.Concatenate()([keras.ops.mean(per_patch, axis=1), keras.ops.max(per_patch, axis=1)])
    frozen_view = _pooled_view(tail, fronts, split.train)
    standardise = keras.layers.Normalization()
    standardise.adapt(frozen_view)
    x = keras.layers.Dropout(0.5)(keras.layers.Dense(256, activation="relu")(standardise(pooled)))
    features = keras.Input((dataset.features.shape[1],), name="features")
    tabular = tabular_branch(features, TabularBranchConfig(True, (512,), 0.5), dataset.features[split.train], seed)
    genre = keras.layers.Dense(10, activation="softmax")(keras.layers.Concatenate()([x, tabular]))
    model = keras.Model([inputs, features], genre)
    model.compile(
        keras.optimizers.Adam(3e-4 if first else 1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    stop = keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
    model.fit(
        _Rows(fronts, dataset.features, dataset.labels, split.train, shuffle=True, seed=seed),
        validation_data=_Rows(fronts, dataset.features, dataset.labels, split.validation),
        epochs=100,
        callbacks=[stop],
        verbose=0,
    )
    return model.predict(_Rows(fronts, dataset.features, dataset.labels, split.test), verbose=0)


def _tail(first: int | None):
    """musicnn from its front end's output to its pooled features (mean_pool, max_pool side by side),
    trainable from ``midend<first>_conv`` on (None: frozen); batch norm keeps its statistics."""
    import keras

    network = _network()
    tail = keras.Model(
        network.get_layer("front_end").output,
        keras.layers.Concatenate()([network.get_layer("mean_pool").output, network.get_layer("max_pool").output]),
    )
    for layer in tail.layers:
        trains = first is not None and layer.name.startswith("midend") and int(layer.name[6]) >= first
        layer.trainable = trains and not isinstance(layer, keras.layers.BatchNormalization)
    return tail


def _pooled_view(tail, fronts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The frozen network's view of ``rows`` (means and maxima over the patches), for standardising."""
    views = []
    for row in rows:
        per_patch = np.asarray(tail(np.asarray(fronts[row], dtype=np.float32), training=False))
        views.append(np.concatenate([per_patch.mean(axis=0), per_patch.max(axis=0)]))
    return np.asarray(views, dtype=np.float32)


def _make_per_patch():
    import keras

    class PerPatch(keras.layers.Layer):
        """A network of one patch applied to each of a track's patches: (batch, patches, ...) in and out."""

        def __init__(self, network, **kwargs):
            super().__init__(**kwargs)
            self.network = network

        def call(self, x, training=None):
            shape = keras.ops.shape(x)
            flat = keras.ops.reshape(x, (-1, *x.shape[2:]))
            out = self.network(flat, training=training)
            return keras.ops.reshape(out, (shape[0], shape[1], out.shape[-1]))

    return PerPatch


def _make_rows():
    import keras

    class Rows(keras.utils.PyDataset):
        """Batches of ``rows``: their front-end activations (as float32) and feature rows, and genres."""

        def __init__(self, fronts, features, labels, rows, shuffle=False, seed=0, batch=32):
            super().__init__()
            self.fronts, self.features, self.labels, self.rows = fronts, features, labels, np.asarray(rows)
            self.shuffle, self.batch = shuffle, batch
            self.generator = np.random.default_rng(seed)
            self.order = self.generator.permutation(self.rows) if shuffle else self.rows

        def __len__(self):
            return -(-len(self.rows) // self.batch)

        def __getitem__(self, index):
            rows = np.sort(self.order[index * self.batch : (index + 1) * self.batch])
            inputs = (np.asarray(self.fronts[rows], dtype=np.float32), self.features[rows].astype(np.float32))
            return inputs, self.labels[rows]

        def on_epoch_end(self):
            if self.shuffle:
                self.order = self.generator.permutation(self.rows)

    return Rows


if __name__ == "__main__":
    load_keras()
    _PerPatch, _Rows = _make_per_patch(), _make_rows()
    with log.to_console():
        main()
