"""Genre probabilities from a saved model: for tracks of a dataset, for one image and feature row
held in memory, or for an audio file. Images go through the same preprocessing the model was
trained with (from the run's config), so a caller never resizes or scales anything by hand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from multimodal_genre.audio import extract_audio, extract_cached
from multimodal_genre.data import FEATURE_COLUMNS, GENRES, GenreDataset, Tracks, cache
from multimodal_genre.data.images import open_image, preprocess, to_unit_float
from multimodal_genre.data.layout import CLIP_SAMPLES
from multimodal_genre.errors import DataError, RunError
from multimodal_genre.musicnn import Embedding
from multimodal_genre.musicnn.embeddings import RMS_MEAN, RMS_VAR, Clip, clip_embedding, embed_audio
from multimodal_genre.runs import ModelRun, predictions_table
from multimodal_genre.seen import Seen
from multimodal_genre.views import needed_views, prepare


def predict_tracks(run: ModelRun, dataset: GenreDataset, tracks: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per track (all of ``dataset`` when ``tracks`` is None): its true and predicted genre,
    whether the model saw it (trained on it or watched it for early stopping) and the probability of
    each genre. Tracks are named ``blues.00000`` or ``blues.00000.wav``."""
    if tracks:
        position = {track: row for row, track in enumerate(dataset.track_ids)}
        wanted = [track.removesuffix(".wav") for track in tracks]
        unknown = [track for track in wanted if track not in position]
        if unknown:
            raise DataError(f"{dataset.root}: no track named {', '.join(unknown)} (names look like blues.00000)")
        rows = np.array([position[track] for track in wanted])
    else:
        rows = np.arange(len(dataset))
    dataset = prepare(dataset, run.config, [run.name]).dataset  # by the route the model trained on, where it can
    expected = run.record.dataset.image_shape
    if "image" in run.family.views and expected != dataset.images.shape[1:]:
        raise DataError(
            f"{run.directory}: the model takes {expected} images, the dataset gives {dataset.images.shape[1:]}"
        )
    probabilities = run.predict_proba(dataset.tracks(rows))
    table = predictions_table(dataset.track_ids[rows], dataset.labels[rows], probabilities)
    table.insert(3, "seen", [track in run.seen.trained or track in run.seen.watched for track in table["track"]])
    return table


@dataclasses.dataclass(frozen=True)
class Agreement:
    """How the predictions of tracks whose genre is known fared: the share right among those the model
    never saw, and how many it saw (trained on or watched), which no accuracy counts."""

    tracks: int  # known genre, never seen
    accuracy: float | None  # None where no such track
    seen: tuple[str, ...]  # known genre, seen: left out of the accuracy


def agreement(table: pd.DataFrame, name: str) -> Agreement:
    """The accuracy of a predictions table's rows of known genre that the model never saw (``seen``);
    a model's score on its own training tracks measures its memory, not its skill, so those are
    only counted, by their ``name`` column."""
    known = table[table["true_genre"].isin(GENRES)]
    seen = known["seen"].astype(bool) if "seen" in known else pd.Series(False, index=known.index)
    unseen = known[~seen]
    right = (unseen["true_genre"] == unseen["predicted_genre"]).mean() if len(unseen) else None
    return Agreement(len(unseen), None if right is None else float(right), tuple(known.loc[seen, name].astype(str)))


def track_of(path: Path) -> str:
    """The GTZAN track an audio file's name says it is (``blues.00000`` for ``.../blues.00000.wav``),
    or ``""`` where its name is not a track's."""
    parts = path.name.split(".")
    if len(parts) >= 2 and parts[0] in GENRES and len(parts[1]) == 5 and parts[1].isdigit():
        return f"{parts[0]}.{parts[1]}"
    return ""


def genre_of(path: Path) -> str:
    """The genre an audio file's place says it is, as GTZAN lays its audio out
    (``genres_original/blues/blues.00000.wav``): its folder's name or its name's first part, where
    that is a genre; else ``""``."""
    for candidate in (path.parent.name, path.name.split(".")[0]):
        if candidate in GENRES:
            return candidate
    return ""


def predict_one(
    run: ModelRun,
    image: Image.Image | str | Path,
    features: Mapping[str, float] | Sequence[float],
    length: int = CLIP_SAMPLES,
    samples: np.ndarray | None = None,
) -> dict[str, float]:
    """Genre -> probability for one spectrogram (a PNG path or a Pillow image in the Kaggle layout)
    and its feature row (the 57 CSV features by name, or as a sequence in CSV order); ``length`` is
    the clip's in samples at 22,050 Hz (the CSV's length column), which places a pre-trained
    network's patches along the picture. A model whose pre-trained network reads audio
    (``source: audio``) needs the clip's ``samples`` (mono, 22,050 Hz) too."""
    picture = open_image(Path(image)) if isinstance(image, (str, Path)) else image
    pixels = to_unit_float(preprocess(picture, run.config.data.image))[np.newaxis]
    row = _feature_row(features)[np.newaxis]
    clip = Clip(length, float(row[0, RMS_MEAN]), float(row[0, RMS_VAR]))
    views = {view.key: _view(view, picture, clip, samples, run) for view in needed_views(run.config, [run.name])}
    probabilities = run.predict_proba(Tracks(pixels, row, views))[0]
    return {genre: float(probability) for genre, probability in zip(GENRES, probabilities, strict=True)}


def _view(view: Embedding, picture: Image.Image, clip: Clip, samples: np.ndarray | None, run: ModelRun) -> np.ndarray:
    """One clip's pre-trained view, by the route the model trained on."""
    if view.source == "picture":
        return clip_embedding(picture, clip, view, cache.directory_for(run.config.data))
    if samples is None:
        raise RunError(
            f"{run.directory}: its pre-trained network reads the audio (source: audio); give the audio "
            "(predict_audio, or predict_one with samples=)"
        )
    return embed_audio([samples], view)


@dataclasses.dataclass(frozen=True)
class AudioPrediction:
    path: Path
    seconds: float
    windows: int  # 30 s windows scored and averaged (1 for a clip of up to 31 s)
    probabilities: dict[str, float]  # genre -> probability, averaged over the windows

    def top(self, count: int = 3) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda item: item[1], reverse=True)[:count]


def audio_table(found: Sequence[AudioPrediction], seen: Seen) -> pd.DataFrame:
    """One row per scored file: its length, windows, the genre its place names (``genre_of``), the
    predicted genre, whether its name is a track the model saw (``track_of``) and each genre's
    probability."""
    return pd.DataFrame(
        [
            {"file": str(item.path), "seconds": round(item.seconds, 2), "windows": item.windows}
            | {"true_genre": genre_of(item.path), "predicted_genre": item.top(1)[0][0]}
            | {"seen": track_of(item.path) in seen.trained | seen.watched}
            | {f"p_{genre}": probability for genre, probability in item.probabilities.items()}
            for item in found
        ]
    )


def predict_audio(run: ModelRun, path: str | Path) -> AudioPrediction:
    """Genre probabilities for an audio file, from its GTZAN-style features and picture; audio longer
    than a clip is scored on 30 s windows and the probabilities averaged."""
    reads_audio = any(view.source == "audio" for view in needed_views(run.config, [run.name]))
    found = extract_audio(path) if reads_audio else extract_cached(path, cache.directory_for(run.config.data))
    windows = zip(found.images, found.rows, found.lengths, found.samples or [None] * len(found.rows), strict=True)
    scored = [predict_one(run, image, row, length, samples) for image, row, length, samples in windows]
    mean = {genre: float(np.mean([window[genre] for window in scored])) for genre in GENRES}
    return AudioPrediction(found.path, found.seconds, len(scored), mean)


def _feature_row(features: Mapping[str, float] | Sequence[float]) -> np.ndarray:
    if isinstance(features, Mapping):
        missing = [name for name in FEATURE_COLUMNS if name not in features]
        extra = [name for name in features if name not in FEATURE_COLUMNS]
        if missing or extra:
            raise DataError(f"feature row: missing {missing or 'none'}, unexpected {extra or 'none'}")
        values = np.array([features[name] for name in FEATURE_COLUMNS], dtype=np.float64)
    else:
        values = np.asarray(features, dtype=np.float64)
        if values.shape != (len(FEATURE_COLUMNS),):
            raise DataError(f"feature row: expected {len(FEATURE_COLUMNS)} values in CSV order, got {values.size}")
    bad = [name for name, value in zip(FEATURE_COLUMNS, values, strict=True) if not np.isfinite(value)]
    if bad:
        raise DataError(f"feature row: {', '.join(bad)} must be finite numbers")
    return values
