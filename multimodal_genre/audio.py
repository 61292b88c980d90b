"""From an audio file to what the Kaggle GTZAN files hold for a track: its row of 57 features and
its 432x288 mel-spectrogram PNG, made the way the Kaggle files were made, so that a model trained
on GTZAN sees the user's music as it saw GTZAN.

How the Kaggle files were made, as measured against the ten GTZAN clips in ``genres_original``
(tests/test_real_data.py and benchmarks/audio_extraction.py keep it so):

- librosa's defaults at 22050 Hz mono: n_fft 2048, hop 512, 128 mel bands, 20 MFCCs, tempo from
  ``librosa.beat.beat_track`` (``librosa.feature.tempo`` on its default onset envelope differs on 2
  of the 10 clips; on beat_track's median envelope it is the same number, without importing the beat
  tracker, whose compiled kernels take seconds to build on every start). STFT frames
  are padded by reflection, librosa's default before 0.10 (today's zero padding moves the spectral
  features by up to 0.2%). ``harmony`` and ``perceptr`` are the mean and variance of the two
  signals of ``librosa.effects.hpss``.
- The image is the mel *power* spectrogram through ``amplitude_to_db(ref=np.max)``, which keeps its
  top 40 dB (``power_to_db`` would keep 80 dB and give a much brighter picture), drawn by
  ``specshow`` in magma, without ticks, on a 6x4 inch figure at 72 dpi with subplot box left 0.125,
  right 0.9, bottom 0.125, top 0.88 on white. The Kaggle pictures sit 1.9 frames left and 0.3 bands
  down of where today's ``specshow`` puts them (measured over the ten clips: mean absolute pixel
  difference in the plot box 0.2-0.5 of 255 with these offsets, 9-28 without).

librosa, Matplotlib and pandas are imported inside the functions that use them: they take seconds to
import, most commands never touch audio, and ``predict`` checks its audio files before any loads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from multimodal_genre import progress
from multimodal_genre.data import cache
from multimodal_genre.data.layout import FEATURE_COLUMNS, GENRES, IMAGE_SIZE
from multimodal_genre.errors import AudioError, ConfigError, MultimodalGenreError

SAMPLE_RATE = 22050
WINDOW_SECONDS = 30.0  # GTZAN's clip length: longer audio is cut into windows of this length
# GTZAN's own clips run up to 30.65 s: audio up to this long is one window, taken whole.
SINGLE_WINDOW_SECONDS = 31.0
MIN_SECONDS = 5.0  # shorter audio has too few beats for a tempo and too few frames for a picture
MAX_SECONDS = 3600.0  # an hour: 320 MB of mono samples, the most one file may take in memory
BLOCK_SECONDS = 10  # audio read, mixed down and resampled this much at a time
SHORT_SECONDS = 29.0  # shorter than a GTZAN clip: its picture repeats it to a clip's length, so warn
PAD_MODE = "reflect"
EXTRACTION_FORMAT = 1  # bump when the extraction makes something else of the same audio (``extract_cached``)
FIGURE_INCHES, FIGURE_DPI = (6, 4), 72
SUBPLOT_BOX = {"left": 0.125, "right": 0.9, "bottom": 0.125, "top": 0.88}
FRAME_OFFSET, BAND_OFFSET = 1.9, 0.3


class ShortAudioWarning(UserWarning):
    """The audio is shorter than a GTZAN clip, so its features and picture are less comparable."""


def load_audio(path: str | Path) -> np.ndarray:
    """Mono samples at 22050 Hz from any file librosa reads (WAV, FLAC, OGG; MP3 where libsndfile
    or the system's decoder can); an unreadable, empty, too short or too long file is an AudioError
    naming it."""
    path = Path(path)
    problem = file_problem(path)
    if problem is not None:
        raise AudioError(problem)
    try:
        with warnings.catch_warnings(), _native_stderr_silenced():
            warnings.simplefilter("ignore")  # librosa's fallback notices; a failure still raises
            samples = _decode(path)
    except AudioError:
        raise
    except Exception as error:  # soundfile and audioread raise many types for a file they cannot decode
        detail = str(error).strip() or "no decoder could read it"
        raise AudioError(f"{path}: not readable as audio ({type(error).__name__}: {detail})") from None
    seconds = len(samples) / SAMPLE_RATE
    if seconds < MIN_SECONDS:
        raise AudioError(
            f"{path}: {seconds:.1f} s of audio, too short (at least {MIN_SECONDS:.0f} s; GTZAN clips are 30 s)"
        )
    if not np.isfinite(samples).all() or not np.any(samples):
        raise AudioError(f"{path}: the audio is silent or damaged (no finite, non-zero samples)")
    if seconds < SHORT_SECONDS:
        warnings.warn(
            ShortAudioWarning(
                f"{path}: {seconds:.1f} s, shorter than GTZAN's 30 s clips; its picture repeats it to fill 30 s"
            ),
            stacklevel=2,
        )
    return samples


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be audio to read, as far as its place tells without reading it (a missing
    or empty file); None where it is worth decoding."""
    if not path.is_file():
        return f"{path}: no such audio file"
    if path.stat().st_size == 0:
        return f"{path}: the file is empty"
    return None


def _check_length(path: Path, seconds: float) -> None:
    if seconds > MAX_SECONDS:
        raise AudioError(f"{path}: {seconds:.0f} s of audio, longer than the {MAX_SECONDS:.0f} s this reads")


def _decode(path: Path) -> np.ndarray:
    """Mono 22050 Hz samples. What libsndfile reads (WAV, FLAC, OGG) is read, mixed down and resampled
    block by block, so memory holds the mono result and one block, whatever the file's rate, channels
    and sample size (libsndfile 1.1 and later read MP3 too); the rest (AAC, ... through the system's
    decoder) librosa decodes whole, after its length is checked."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except RuntimeError:  # not a format libsndfile reads
        import librosa

        _check_length(path, librosa.get_duration(path=path))
        return librosa.load(path, sr=SAMPLE_RATE, mono=True)[0]
    _check_length(path, info.duration)
    resampler = _resampler(info.samplerate)
    # The header's length (and a few samples a resampler may add), untouched until written: a header
    # that claims more than the file holds costs no memory.
    out = np.empty(int(np.ceil(info.frames * SAMPLE_RATE / info.samplerate)) + 64, dtype=np.float32)
    filled = 0
    blocks = soundfile.blocks(str(path), blocksize=BLOCK_SECONDS * info.samplerate, dtype="float32", always_2d=True)
    for block in blocks:
        mono = block.mean(axis=1, dtype=np.float32)
        filled = _append(out, filled, mono if resampler is None else resampler.resample_chunk(mono))
    if resampler is not None:
        filled = _append(out, filled, resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    return out[:filled]


def _resampler(rate: int) -> Any:
    """librosa's resampling (soxr, high quality) one block at a time; None where no resampling is needed."""
    if rate == SAMPLE_RATE:
        return None
    import soxr

    return soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")


def _append(out: np.ndarray, filled: int, samples: np.ndarray) -> int:
    if filled + len(samples) > len(out):
        raise ValueError("the audio holds more samples than its header says")
    out[filled : filled + len(samples)] = samples
    return filled + len(samples)


def windows(samples: np.ndarray) -> list[np.ndarray]:
    """The audio as GTZAN-length pieces: whole up to 31 s, else one 30 s window per started 31 s,
    spaced evenly from the first sample to the last (so at most 1 s per window falls between them)."""
    size = int(WINDOW_SECONDS * SAMPLE_RATE)
    if len(samples) <= SINGLE_WINDOW_SECONDS * SAMPLE_RATE:
        return [samples]
    count = int(np.ceil(len(samples) / (SINGLE_WINDOW_SECONDS * SAMPLE_RATE)))
    starts = np.linspace(0, len(samples) - size, count).round().astype(int)
    return [samples[start : start + size] for start in starts]


def feature_row(samples: np.ndarray) -> dict[str, float]:
    """The 57 features of features_30_sec.csv, by name, in CSV order."""
    import librosa

    spectral = {
        "chroma_stft": librosa.feature.chroma_stft(y=samples, sr=SAMPLE_RATE, pad_mode=PAD_MODE),
        "rms": librosa.feature.rms(y=samples, pad_mode=PAD_MODE),
        "spectral_centroid": librosa.feature.spectral_centroid(y=samples, sr=SAMPLE_RATE, pad_mode=PAD_MODE),
        "spectral_bandwidth": librosa.feature.spectral_bandwidth(y=samples, sr=SAMPLE_RATE, pad_mode=PAD_MODE),
        "rolloff": librosa.feature.spectral_rolloff(y=samples, sr=SAMPLE_RATE, pad_mode=PAD_MODE),
        "zero_crossing_rate": librosa.feature.zero_crossing_rate(samples),
        **dict(zip(("harmony", "perceptr"), librosa.effects.hpss(samples, pad_mode=PAD_MODE), strict=True)),
    }
    mfcc = librosa.feature.mfcc(y=samples, sr=SAMPLE_RATE, n_mfcc=20, pad_mode=PAD_MODE)
    values = {
        **{f"{name}_{stat}": _stat(array, stat) for name, array in spectral.items() for stat in ("mean", "var")},
        "tempo": _tempo(samples),
        **{f"mfcc{index + 1}_{stat}": _stat(row, stat) for index, row in enumerate(mfcc) for stat in ("mean", "var")},
    }
    return {name: values[name] for name in FEATURE_COLUMNS}


def _tempo(samples: np.ndarray) -> float:
    """``librosa.beat.beat_track``'s tempo: the onset envelope's median over bands, 0 where it is silent."""
    import librosa

    envelope = librosa.onset.onset_strength(y=samples, sr=SAMPLE_RATE, aggregate=np.median)
    return float(librosa.feature.tempo(onset_envelope=envelope, sr=SAMPLE_RATE)[0]) if envelope.any() else 0.0


def spectrogram_image(samples: np.ndarray) -> Image.Image:
    """The mel spectrogram drawn like the Kaggle ``images_original`` PNGs: 432x288 RGBA."""
    import librosa
    import librosa.display
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    power = librosa.feature.melspectrogram(y=samples, sr=SAMPLE_RATE, pad_mode=PAD_MODE)
    decibels = librosa.amplitude_to_db(power, ref=np.max)
    bands, frames = decibels.shape
    # Two copies of the last frame fill the strip the offset leaves at the right edge.
    padded = np.concatenate([decibels, decibels[:, -1:], decibels[:, -1:]], axis=1)
    with matplotlib.style.context("default"):
        figure = Figure(figsize=FIGURE_INCHES, dpi=FIGURE_DPI)
        canvas = FigureCanvasAgg(figure)
        figure.subplots_adjust(**SUBPLOT_BOX)
        axes = figure.add_subplot()
        librosa.display.specshow(
            padded,
            x_coords=np.arange(frames + 3) - FRAME_OFFSET,
            y_coords=np.arange(bands + 1) - BAND_OFFSET,
            cmap="magma",
            ax=axes,
        )
        axes.set_xlim(0, frames)
        axes.set_ylim(0, bands)
        canvas.draw()
        image = Image.fromarray(np.asarray(canvas.buffer_rgba()).copy(), "RGBA")
    if image.size != IMAGE_SIZE:
        raise AssertionError(f"drew a {image.size} picture, the Kaggle layout is {IMAGE_SIZE}")
    return image


@dataclasses.dataclass(frozen=True)
class Extracted:
    """One audio file's GTZAN-style view: the features and picture of each 30 s window."""

    path: Path
    seconds: float
    lengths: list[int]  # samples in each window, as drawn
    rows: list[dict[str, float]]
    images: list[Image.Image]
    samples: list[np.ndarray]  # each window's own audio (not repeated), for a network that reads it; [] from the cache


def extract_audio(path: str | Path, every_window: bool = True) -> Extracted:
    """Features and picture of each window of ``path`` (only the middle window if not ``every_window``).
    A window shorter than a clip is drawn repeated to a clip's length (``filled``); its feature row
    is its own, whose means and variances do not depend on its length."""
    samples = load_audio(path)
    pieces = windows(samples)
    if not every_window:
        pieces = [pieces[len(pieces) // 2]]
    drawn = [filled(piece) for piece in pieces]
    return Extracted(
        Path(path),
        len(samples) / SAMPLE_RATE,
        [len(piece) for piece in drawn],
        [feature_row(piece) for piece in pieces],
        [spectrogram_image(piece) for piece in drawn],
        pieces,
    )


def extract_cached(path: str | Path, directory: Path | None) -> Extracted:
    """``extract_audio`` of every window, kept in ``directory`` (None: no cache) by the file's content
    and the versions of the libraries that make it: a later call on the same audio reads its rows and
    pictures back without starting librosa. The samples are not kept (``samples`` is empty then)."""
    if directory is None:
        return extract_audio(path)
    path = Path(path)
    key = _extraction_key(path)
    pictures, table = (cache.load_array(directory, key, kind) for kind in ("clip-pictures", "clip-rows"))
    if pictures is not None and table is not None:
        rows = [dict(zip(FEATURE_COLUMNS, map(float, row[:-2]), strict=True)) for row in table]
        images = [Image.fromarray(picture, "RGBA") for picture in pictures]
        return Extracted(path, float(table[0, -1]), [int(length) for length in table[:, -2]], rows, images, [])
    found = extract_audio(path)
    cache.keep(directory, key, np.stack([np.asarray(image) for image in found.images]), "clip-pictures")
    numbers = [[*row.values(), length, found.seconds] for row, length in zip(found.rows, found.lengths, strict=True)]
    cache.keep(directory, key, np.array(numbers, dtype=np.float64), "clip-rows")
    return found


def _extraction_key(path: Path) -> str:
    from importlib.metadata import version

    libraries = {name: version(name) for name in ("librosa", "matplotlib", "numpy", "scipy")}
    return cache.key({"format": EXTRACTION_FORMAT, "audio": cache.file_digest(path), **libraries})


def filled(samples: np.ndarray) -> np.ndarray:
    """Audio shorter than ``SHORT_SECONDS`` repeated to a clip's length (30 s), so that its picture
    has GTZAN's time scale: drawn alone, 12 s would be stretched over the width of 30 s and every
    rhythm and onset in it would look two and a half times slower to a network trained on GTZAN."""
    if len(samples) >= SHORT_SECONDS * SAMPLE_RATE:
        return samples
    return np.resize(samples, int(WINDOW_SECONDS * SAMPLE_RATE))


@dataclasses.dataclass(frozen=True)
class Extraction:
    images: list[Path]  # one per file extracted
    errors: list[str]  # one line per file that could not be
    notes: list[str]  # files longer than a clip: which part was taken


def extract(paths: Sequence[str | Path], out: str | Path, label: str = "") -> Extraction:
    """Add each audio file to the dataset folder ``out`` (made if need be) as a GTZAN track: its row in
    features_30_sec.csv under its own file name, and its picture in images_original/<label>/. Audio
    longer than a clip gives its middle 30 s, one track per file, so that no song can sit on both
    sides of a split. A file that fails is reported and skipped; the others are still added."""
    from multimodal_genre.data.builder import add_track, check_track, dataset_filenames

    out = Path(out)
    if label and label not in GENRES:
        raise ConfigError(f"label: unknown genre {label!r} (known: {', '.join(GENRES)})")
    out.mkdir(parents=True, exist_ok=True)
    taken = dataset_filenames(out)
    notes = []

    def add(path: Path) -> Path:
        check_track(out, path.name, label, taken)
        found = extract_audio(path, every_window=False)
        if found.seconds > SINGLE_WINDOW_SECONDS:
            notes.append(f"{path}: {found.seconds:.1f} s long; its middle {WINDOW_SECONDS:.0f} s were extracted")
        written = add_track(out, path.name, found.lengths[0], found.rows[0], label, found.images[0])
        taken.add(path.name)
        return written

    images, errors = for_each_file(paths, add)
    return Extraction(images, errors, notes)


def for_each_file(
    paths: Sequence[str | Path], work: Callable[[Path], object], on_error: Callable[[str], None] | None = None
) -> tuple[list, list[str]]:
    """``work`` on every file, each counted as done in an open job of files (``progress``); a file
    that fails with a user error is skipped (and passed to ``on_error`` at once), the others still
    done. Returns the results and the errors."""
    results, errors = [], []
    for path in map(Path, paths):
        try:
            results.append(work(path))
        except MultimodalGenreError as error:
            errors.append(str(error))
            if on_error is not None:
                on_error(str(error))
        progress.done("file", str(path))
    return results, errors


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Hide what the C decoders print while they try a file (mpg123's "Illegal Audio-MPEG-Header"
    notes for a file that is not MP3); the failure itself still comes back as an exception."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _stat(values: np.ndarray, stat: str) -> float:
    return float(np.mean(values) if stat == "mean" else np.var(values))
