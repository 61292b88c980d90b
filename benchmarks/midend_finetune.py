"""Fine-tuning musicnn's mid-end on cached front-end activations of the picture route: an attempt at
a network that reaches the SVM (benchmarks/fused_attempts.py lists the others).

musicnn's front end (its timbral and temporal filters) is nineteen twentieths of its cost; its
mid-end, three 7-frame convolutions over the front end's 561 features, is where it combines them.
Each track's front-end activations (10 evenly spaced 3 s patches, float16) are computed once by the
picture route and cached (about 2 GB). From them, once a run, the output of the mid-end's second
layer and the pooled features of everything before the third (the front end and the first two
layers, mean and max over time); the network trains the third layer, ``midend3_conv`` (its batch
norm keeps its statistics), at a few seconds an epoch. The network: each patch's pooled features
(1506: the fixed part beside the third layer's mean and max over time), pooled over the patches by
their mean and their max, standardised, a dense layer of 256 beside the fused network's tabular
branch on the feature row, into a softmax; trained on each fold's training rows, stopped early on
its validation rows. The same network with the third layer frozen is the baseline it must beat.

    python benchmarks/midend_finetune.py --data ../shared/gtzan            # both variants, seeds 42 and 7
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

VARIANTS = {"frozen": False, "midend3": True}  # name -> whether midend3_conv trains
PATCHES = TRAINABLE_PATCHES
FOLDS = 5
FRONT = 561  # the front end's features
FRAMES, WIDTH = 187, 64  # a patch's frames; each mid-end layer's width
FIXED = FRONT + 2 * WIDTH  # the features before the third layer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser)
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), help="variants to run (default: all)")
    args = parse_with_data(parser)
    load_keras()
    config = load_config()
    dataset = quiet_dataset(args.data, config.data)
    inputs = MidEndInputs.of(front_end_activations(dataset))
    for name, trains in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        found = {"model": "musicnn mid-end + MLP", "about": _about(trains), "config": "benchmarks/midend_finetune.py"}
        found["command"] = portable_command(["python", *sys.argv])
        for seed in SEEDS:
            split_config = dataclasses.replace(config.split, seed=seed, folds=FOLDS)
            started, scores = time.perf_counter(), []
            for index, split in enumerate(kfold_splits(dataset.labels, dataset.groups, split_config), start=1):
                probabilities = fit_and_predict(dataset, inputs, split, trains, seed=0)
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


def _about(trains: bool) -> str:
    if not trains:
        return "musicnn's mid-end frozen over cached front-end activations, the baseline midend3 must beat"
    return "musicnn's third mid-end layer (midend3_conv) fine-tuned on cached front-end activations"


@dataclasses.dataclass(frozen=True)
class MidEndInputs:
    """Per track and patch: the second mid-end layer's output (what the third reads, float16) and the
    pooled features before the third layer (mean over time, then max; (tracks, patches, 2 * FIXED))."""

    second: np.ndarray
    fixed: np.ndarray

    @classmethod
    def of(cls, fronts: np.ndarray) -> MidEndInputs:
        import keras

        network = _network()
        front = keras.Input((FRAMES, FRONT))
        layer1 = _mid_end_layer(network, 1, front)
        layer2 = keras.layers.Add()([_mid_end_layer(network, 2, layer1), layer1])
        early = keras.Model(front, [front, layer1, layer2])
        second = np.empty((len(fronts), PATCHES, FRAMES, WIDTH), np.float16)
        fixed = np.empty((len(fronts), PATCHES, 2 * FIXED), np.float32)
        for row in range(len(fronts)):
            outputs = early.predict_on_batch(np.asarray(fronts[row], dtype=np.float32))
            joined = np.concatenate(outputs, axis=-1)  # (patches, frames, FIXED)
            second[row] = outputs[-1]
            fixed[row] = np.concatenate([joined.mean(axis=1), joined.max(axis=1)], axis=-1)
        return cls(second, fixed)

    def batch(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The mid-end's inputs of ``rows``, as float32."""
        return self.second[rows].astype(np.float32), self.fixed[rows]


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


def fit_and_predict(dataset: GenreDataset, inputs: MidEndInputs, split: Split, trains: bool, seed: int) -> np.ndarray:
    """The test probabilities of the network trained on ``split``'s training rows."""
    import keras

    from multimodal_genre.families.networks.build import tabular_branch
    from multimodal_genre.families.networks.settings import TabularBranchConfig

    keras.utils.set_random_seed(seed)
    third = _third_layer(trains)
    second = keras.Input((PATCHES, FRAMES, WIDTH), name="second")
    fixed = keras.Input((PATCHES, 2 * FIXED), name="fixed")
    pooled = _patch_pooled(fixed, _PerPatch(third)(second))
    standardise = keras.layers.Normalization()
    view = keras.Model([second, fixed], pooled)
    chunks = np.array_split(split.train, -(-len(split.train) // 32))
    standardise.adapt(np.concatenate([view.predict_on_batch(inputs.batch(chunk)) for chunk in chunks]))
    x = keras.layers.Dropout(0.5)(keras.layers.Dense(256, activation="relu")(standardise(pooled)))
    features = keras.Input((dataset.features.shape[1],), name="features")
    tabular = tabular_branch(features, TabularBranchConfig(True, (512,), 0.5), dataset.features[split.train], seed)
    genre = keras.layers.Dense(10, activation="softmax")(keras.layers.Concatenate()([x, tabular]))
    model = keras.Model([second, fixed, features], genre)
    model.compile(keras.optimizers.Adam(3e-4 if trains else 1e-3), "sparse_categorical_crossentropy")
    model.fit(
        _Rows(dataset, inputs, split.train, shuffle=True, seed=seed),
        validation_data=_Rows(dataset, inputs, split.validation),
        epochs=100,
        callbacks=[keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)],
        verbose=0,
    )
    return model.predict(_Rows(dataset, inputs, split.test), verbose=0)


def _mid_end_layer(network, index: int, x):
    """musicnn's mid-end layer ``index`` (its padding, convolution and batch norm) applied to ``x``."""
    return network.get_layer(f"midend{index}_bn")(
        network.get_layer(f"midend{index}_conv")(network.get_layer(f"midend{index}_pad")(x))
    )


def _third_layer(trains: bool):
    """musicnn's third mid-end layer with its residual, from the second's output to its mean and max
    over time (batch, 2 * WIDTH); its convolution trains if ``trains``, its batch norm never."""
    import keras

    network = _network()
    second = keras.Input((FRAMES, WIDTH))
    conv, norm = network.get_layer("midend3_conv"), network.get_layer("midend3_bn")
    conv.trainable, norm.trainable = trains, False
    third = keras.layers.Add()([norm(conv(keras.layers.ZeroPadding1D(3)(second))), second])
    pooled = [keras.layers.GlobalAveragePooling1D()(third), keras.layers.GlobalMaxPooling1D()(third)]
    return keras.Model(second, keras.layers.Concatenate()(pooled))


def _patch_pooled(fixed, third):
    """Each patch's musicnn features in mean_pool, max_pool order (front end and three layers), then
    their mean and max over the patches: (batch, 4 * (FIXED + WIDTH))."""
    import keras

    means = keras.layers.Concatenate()([fixed[..., :FIXED], third[..., :WIDTH]])
    maxima = keras.layers.Concatenate()([fixed[..., FIXED:], third[..., WIDTH:]])
    patches = keras.layers.Concatenate()([means, maxima])
    return keras.layers.Concatenate()([keras.ops.mean(patches, axis=1), keras.ops.max(patches, axis=1)])


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
        """Batches of ``rows``: the mid-end's inputs (as float32) and feature rows, and genres."""

        def __init__(self, dataset, inputs, rows, shuffle=False, seed=0, batch=32):
            super().__init__()
            self.dataset, self.inputs, self.rows = dataset, inputs, np.asarray(rows)
            self.shuffle, self.batch = shuffle, batch
            self.generator = np.random.default_rng(seed)
            self.order = self.generator.permutation(self.rows) if shuffle else self.rows

        def __len__(self):
            return -(-len(self.rows) // self.batch)

        def __getitem__(self, index):
            rows = np.sort(self.order[index * self.batch : (index + 1) * self.batch])
            features = self.dataset.features[rows].astype(np.float32)
            return (*self.inputs.batch(rows), features), self.dataset.labels[rows]

        def on_epoch_end(self):
            if self.shuffle:
                self.order = self.generator.permutation(self.rows)

    return Rows


if __name__ == "__main__":
    load_keras()
    _PerPatch, _Rows = _make_per_patch(), _make_rows()
    with log.to_console():
        main()
