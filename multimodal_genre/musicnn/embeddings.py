"""A pre-trained music network's view of each track, computed once.

A track's embedding is what a frozen musicnn (or its VGG) makes of the clip, read from its picture
or from its audio (``Embedding.source``): the chosen activations of each 3 s patch, pooled over the
clip by their mean and their max. Nothing in it is
trained, so it is computed once per dataset and cached on disk like the decoded images, keyed by
the dataset's content (pictures and CSV), the network, its weights and the activations; every
training, fold and trial after that trains only the heads on top. A branch that fine-tunes the
network reads the patches themselves instead (``Embedding.trainable``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from multimodal_genre import progress
from multimodal_genre.audio import ShortAudioWarning, load_audio
from multimodal_genre.data import FEATURE_COLUMNS, GenreDataset, cache
from multimodal_genre.data.images import open_image
from multimodal_genre.data.settings import DataConfig
from multimodal_genre.musicnn import ACTIVATIONS, Embedding
from multimodal_genre.musicnn.inputs import from_audio, from_picture, patches

# Bump when the code changes what it computes for the same pictures and settings.
EMBEDDING_FORMAT = 1
_BATCH = 16  # patches through the network at once (a 30 s clip's 10 at a time; about 0.5 GB of activations)
TRAINABLE_PATCHES = 10  # a 30 s clip's whole patches
_LOGGED = 100  # tracks between two logged lines
UNITS = {"picture": "picture", "audio": "clip"}  # what a pass counts as done, by the source it reads
RMS_MEAN, RMS_VAR = FEATURE_COLUMNS.index("rms_mean"), FEATURE_COLUMNS.index("rms_var")
logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Clip:
    """What the picture route needs of a track besides its picture: its CSV row's length and level."""

    length: int  # samples at 22,050 Hz
    rms_mean: float
    rms_var: float


def clip_patches(picture: Image.Image, clip: Clip, count: int | None = None) -> np.ndarray:
    """(patches, 187, 96): musicnn's input patches of one track, by the picture route: every whole
    one, or ``count`` evenly spaced."""
    return patches(from_picture(picture, clip.length, clip.rms_mean, clip.rms_var), count)


def embed(pictures: Sequence[Image.Image | Path], clips: Sequence[Clip], embedding: Embedding) -> np.ndarray:
    """``embed_patches`` of tracks by the picture route."""
    count = _patch_count(embedding)
    tracks = zip(pictures, clips, strict=True)
    return embed_patches((clip_patches(_opened(picture), clip, count) for picture, clip in tracks), embedding)


def clip_embedding(picture: Image.Image, clip: Clip, embedding: Embedding, cache_dir: Path | None) -> np.ndarray:
    """``embed`` of one clip's picture, kept in ``cache_dir`` (None: no cache) by its pixels: a later
    ``predict`` of the same audio neither runs the network nor starts TensorFlow."""
    if cache_dir is None:
        return embed([picture], [clip], embedding)
    pixels = hashlib.sha256(np.asarray(picture).tobytes()).hexdigest()
    key = _cache_key(f"{pixels} {dataclasses.astuple(clip)}", embedding)
    cached = cache.load_array(cache_dir, key, kind="clip-view")
    if cached is not None:
        return cached
    computed = embed([picture], [clip], embedding)
    cache.keep(cache_dir, key, computed, "clip-view")
    return computed


def embed_audio(samples: Iterable[np.ndarray], embedding: Embedding) -> np.ndarray:
    """``embed_patches`` of tracks by the audio route: mono samples at 22,050 Hz, one array a track."""
    count = _patch_count(embedding)
    return embed_patches((patches(from_audio(clip), count) for clip in samples), embedding)


def _patch_count(embedding: Embedding) -> int | None:
    """Patches a track: a fine-tuned branch's view has one shape for every track (a 30 s clip's 10
    unless told otherwise); a frozen one pools however many the clip has."""
    return embedding.patches or TRAINABLE_PATCHES if embedding.trainable else embedding.patches


def embed_patches(cuts: Iterable[np.ndarray], embedding: Embedding) -> np.ndarray:
    """(tracks, width) float32, or for a trainable embedding (tracks, patches, 187, 96): each track's
    view from its patches (``cuts``, one array a track), run through the network in batches; each
    track counts as done in the job."""
    if embedding.trainable:
        return np.stack(list(cuts))
    from multimodal_genre.backend import load_keras

    load_keras()  # Keras, quietly: only where a network runs
    from multimodal_genre.musicnn.network import pretrained

    network = pretrained(embedding.network, embedding.weights)
    rows = []
    for cut in cuts:
        # predict_on_batch runs a compiled graph: a quarter faster than calling the network eagerly.
        outputs = [network.predict_on_batch(cut[start : start + _BATCH]) for start in range(0, len(cut), _BATCH)]
        per_patch = np.concatenate(
            [np.concatenate([part[name] for name in embedding.activations], axis=1) for part in outputs]
        )
        rows.append(np.concatenate([per_patch.mean(axis=0), per_patch.max(axis=0)]))
        unit = UNITS[embedding.source]
        progress.done(unit, f"{embedding.title}: {len(rows)} {unit}s" if len(rows) % _LOGGED == 0 else "")
    return np.asarray(rows, dtype=np.float32)


def dataset_embedding(dataset: GenreDataset, embedding: Embedding, data: DataConfig) -> np.ndarray:
    """``embedding`` of every track of ``dataset``, from the cache where ``data`` says to keep one
    and it holds this dataset's (counted as a job of pictures where none is open). A frozen network's
    pass keeps all its activations, so the views of one network and weights (the fused network's
    ``mean_pool``, the SVM's ``mean_pool`` and ``max_pool``) share one pass and one cache entry."""
    directory = cache.directory_for(data)
    whole = (
        embedding
        if embedding.trainable
        else dataclasses.replace(embedding, activations=tuple(ACTIVATIONS[embedding.network]))
    )
    if embedding.source == "audio":  # the CSV and pictures' hash says nothing of the audio
        fingerprint = hashlib.sha256(" ".join([dataset.fingerprint, *map(_digest, dataset.audio)]).encode()).hexdigest()
        compute = functools.partial(embed_audio, (_dataset_audio(path) for path in dataset.audio), whole)
    else:
        clips = [
            Clip(int(length), float(row[RMS_MEAN]), float(row[RMS_VAR]))
            for length, row in zip(dataset.lengths, dataset.features, strict=True)
        ]
        fingerprint = dataset.fingerprint
        compute = functools.partial(embed, [Path(path) for path in dataset.pictures], clips, whole)
    with progress.job(len(dataset), UNITS[embedding.source]):
        pooled = cached_embed(compute, len(dataset), whole, fingerprint, directory)
    return pooled if whole == embedding else activations_of(pooled, whole, embedding.activations)


def activations_of(pooled: np.ndarray, whole: Embedding, wanted: Sequence[str]) -> np.ndarray:
    """The columns of ``wanted`` activations in ``whole``'s pooled view, laid out as ``embed`` lays
    out a view of just those: their means over the patches, then their maxima."""
    widths = ACTIVATIONS[whole.network]
    starts = dict(zip(whole.activations, np.cumsum([0, *(widths[name] for name in whole.activations)]), strict=False))
    half = pooled.shape[1] // 2
    columns = [
        np.arange(offset + starts[name], offset + starts[name] + widths[name])
        for offset in (0, half)
        for name in wanted
    ]
    return pooled[:, np.concatenate(columns)]


def cached_embed(
    compute: Callable[[], np.ndarray], tracks: int, embedding: Embedding, fingerprint: str, cache_dir: Path | None
) -> np.ndarray:
    """``compute()``, the ``embedding`` of the ``tracks`` of a dataset whose content hashes to
    ``fingerprint``, through the on-disk cache in ``cache_dir`` (None: no cache)."""
    unit = UNITS[embedding.source]
    if cache_dir is None:
        logger.info(f"{embedding.title} of {tracks} {unit}s (no cache: every run computes it again)")
        return compute()
    key = _cache_key(fingerprint, embedding)
    cached = cache.load_array(cache_dir, key, kind="embedding")
    if cached is not None and len(cached) == tracks:
        return cached
    logger.info(f"{embedding.title} of {tracks} {unit}s, once; cached in {cache_dir}")
    computed = compute()
    cache.keep(cache_dir, key, computed, "embedding")
    return computed


def _cache_key(fingerprint: str, embedding: Embedding) -> str:
    weights = embedding.weights_name
    return cache.key(
        {"format": EMBEDDING_FORMAT, "dataset": fingerprint, **dataclasses.asdict(embedding), "weights": weights}
    )


def _dataset_audio(path: str) -> np.ndarray:
    """A dataset track's audio; a short clip is read without a warning (its picture is the dataset's
    own, and the picture route reads it without one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortAudioWarning)
        return load_audio(path)


def _digest(path: str) -> str:
    return cache.file_digest(Path(path))


def _opened(picture: Image.Image | Path) -> Image.Image:
    return open_image(picture) if isinstance(picture, Path) else picture
