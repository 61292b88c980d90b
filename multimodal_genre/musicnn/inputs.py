"""musicnn's input, from a Kaggle spectrogram picture or from audio.

musicnn reads 96 mel bands of 16 kHz audio (STFT 512, hop 256: 62.5 frames a second), power
compressed as ``log10(10000 * mel + 1)``, in patches of 187 frames (3 s). Two routes lead there:

- **From audio** (``from_audio``): what the authors' extractor does, computed in float32 (their
  float16 copy overflows in NumPy 2, where ``10000 * float16`` stays float16).
- **From the picture** (``from_picture``): a Kaggle PNG is the mel power of 22,050 Hz audio (STFT
  2048, hop 512, 128 bands) in decibels below the clip's loudest bin, floored 40 dB below it, drawn
  in magma by ``specshow`` (``audio.py`` draws it the same way). Each pixel's colour gives back its
  place on the colour map, so its level to within 0.16 dB; pixels at the floor, whose true level is
  anywhere below it, count as ``FLOOR_DB``. Rows map to bands and columns to frames by the drawing's
  geometry; the frames are interpolated to musicnn's frame times. Bands map to musicnn's bands
  through the power spectral density each band measures (a linear map, ``band_map``). The picture
  has lost the clip's absolute level, and the CSV row's ``rms_mean`` and ``rms_var`` give it back:
  by Parseval, the STFT power of a frame sums to ``3 n_fft^2 / 16`` times its mean square.

The two routes do not agree closely (``reports/benchmarks/literature.md`` measures them on the ten
GTZAN clips with audio), so a model keeps to the route it was trained on: a model trained on
pictures is given the picture of new audio (``audio.spectrogram_image``), never its direct route.
"""

from __future__ import annotations

import functools

import matplotlib
import numpy as np
from PIL import Image

from multimodal_genre.audio import BAND_OFFSET, FRAME_OFFSET, SAMPLE_RATE, SUBPLOT_BOX

PATCH_FRAMES, MEL_BANDS = 187, 96  # 3 s of musicnn's frames, its mel bands
MUSICNN_RATE, MUSICNN_FFT, MUSICNN_HOP = 16000, 512, 256
KAGGLE_FFT, KAGGLE_HOP, KAGGLE_BANDS = 2048, 512, 128
KAGGLE_TOP_DB = 40.0  # amplitude_to_db of a power spectrogram keeps 80 "amplitude" dB: 40 dB of power
FLOOR_DB = -50.0  # a pixel at the floor: its level lies anywhere below -40 dB (chosen on the ten clips with audio)
COLOURS = 256  # matplotlib's colour maps hold 256 colours


def compress(mel: np.ndarray) -> np.ndarray:
    """musicnn's input compression of a mel power spectrogram, in float32."""
    return np.log10(10000.0 * mel.astype(np.float32) + 1.0)


def from_audio(samples: np.ndarray) -> np.ndarray:
    """(frames, 96) musicnn input of mono audio at ``audio.SAMPLE_RATE``, as the authors' extractor
    computes it from a file (librosa resampling to 16 kHz, then its mel spectrogram)."""
    import librosa

    resampled = librosa.resample(samples, orig_sr=SAMPLE_RATE, target_sr=MUSICNN_RATE)
    mel = librosa.feature.melspectrogram(
        y=resampled, sr=MUSICNN_RATE, hop_length=MUSICNN_HOP, n_fft=MUSICNN_FFT, n_mels=MEL_BANDS
    )
    return compress(mel.T)


def from_picture(image: Image.Image, length: int, rms_mean: float, rms_var: float) -> np.ndarray:
    """(frames, 96) musicnn input of a Kaggle-layout picture of a clip of ``length`` samples at
    22,050 Hz whose CSV row gives ``rms_mean`` and ``rms_var``."""
    levels = _colour_map_levels(image)
    decibels = np.where(levels == 0, FLOOR_DB, (levels + 0.5) / COLOURS * KAGGLE_TOP_DB - KAGGLE_TOP_DB)
    rows, columns = _plot_geometry(image.size, 1 + length // KAGGLE_HOP)
    per_band = decibels[rows]  # (128 bands, picture columns)
    samples = int(np.ceil(length * MUSICNN_RATE / SAMPLE_RATE))
    times = np.arange(1 + samples // MUSICNN_HOP) * MUSICNN_HOP / MUSICNN_RATE * SAMPLE_RATE / KAGGLE_HOP
    relative = 10.0 ** (np.stack([np.interp(times, columns, band) for band in per_band]) / 10.0)
    mapping, power_per_unit = band_map()
    peak = 3 * KAGGLE_FFT**2 / 16 * (rms_mean**2 + rms_var) / float(np.mean(power_per_unit @ relative))
    return compress((mapping @ (relative * peak)).T)


def patches(spectrogram: np.ndarray, count: int | None = None) -> np.ndarray:
    """(patches, 187, 96): the clip cut into consecutive 3 s patches, as the extractor does by default
    (the frames after the last whole patch are left out), or ``count`` patches evenly spaced from its
    start to its end (overlapping where the clip is short). A clip shorter than one patch is repeated."""
    if len(spectrogram) < PATCH_FRAMES:
        spectrogram = np.resize(spectrogram, (PATCH_FRAMES, spectrogram.shape[1]))
    if count is None:
        whole = len(spectrogram) // PATCH_FRAMES
        return spectrogram[: whole * PATCH_FRAMES].reshape(whole, PATCH_FRAMES, spectrogram.shape[1])
    starts = np.linspace(0, len(spectrogram) - PATCH_FRAMES, count).round().astype(int)
    return np.stack([spectrogram[start : start + PATCH_FRAMES] for start in starts])


@functools.cache
def band_map() -> tuple[np.ndarray, np.ndarray]:
    """(96, 128) Kaggle band powers -> musicnn band powers of the same sound, and (128,) the summed
    STFT power of a Kaggle frame per unit of each band's power (for the level).

    A band's power is its filter's weighted sum of STFT bins; where the spectrum is smooth across a
    filter, one bin holds the band's power over the filter's total weight. The bins between band
    centres are interpolated, and an STFT of ``n`` points at rate ``sr`` measures ``3 n sr / 8`` times
    the power spectral density (Hann window), so musicnn's bins are the Kaggle ones scaled by the
    ratio of the two before its filters weigh them."""
    import librosa

    kaggle = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=KAGGLE_FFT, n_mels=KAGGLE_BANDS)
    kaggle_bins = librosa.fft_frequencies(sr=SAMPLE_RATE, n_fft=KAGGLE_FFT)
    centres = (kaggle @ kaggle_bins) / kaggle.sum(axis=1)
    per_bin = 1.0 / kaggle.sum(axis=1)
    musicnn = librosa.filters.mel(sr=MUSICNN_RATE, n_fft=MUSICNN_FFT, n_mels=MEL_BANDS)
    musicnn_bins = librosa.fft_frequencies(sr=MUSICNN_RATE, n_fft=MUSICNN_FFT)
    ratio = (MUSICNN_FFT * MUSICNN_RATE) / (KAGGLE_FFT * SAMPLE_RATE)
    onto_musicnn = _interpolation(musicnn_bins, centres)
    onto_kaggle = _interpolation(kaggle_bins, centres)
    return musicnn @ onto_musicnn * (per_bin * ratio), onto_kaggle.sum(axis=0) * per_bin


def _interpolation(frequencies: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(len(frequencies), len(centres)): linear interpolation between values given at ``centres``."""
    return np.stack([np.interp(frequencies, centres, unit) for unit in np.eye(len(centres))], axis=1)


@functools.cache
def _magma() -> np.ndarray:
    """magma's 256 colours, (256, 3) RGB values on the 0-255 scale (unrounded)."""
    return matplotlib.colormaps["magma"](np.arange(COLOURS))[:, :3] * 255


@functools.cache
def _colour_codes() -> np.ndarray:
    """A table from 24-bit RGB codes to magma's 256 levels (-1 for a colour not on the map)."""
    colours = np.round(_magma()).astype(np.int64)
    table = np.full(2**24, -1, dtype=np.int16)
    table[(colours[:, 0] << 16) | (colours[:, 1] << 8) | colours[:, 2]] = np.arange(COLOURS)
    return table


def _colour_map_levels(image: Image.Image) -> np.ndarray:
    """The plot's pixels as levels 0-255 of the magma map; a colour off the map (a resampled or
    re-encoded picture) takes its nearest colour's level."""
    top, bottom, left, right = _plot_box(image.size)
    rgb = np.asarray(image.convert("RGB"), dtype=np.int64)[top:bottom, left:right]
    codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    levels = _colour_codes()[codes].astype(np.int64)
    off = levels < 0
    if off.any():  # each distinct colour once, its distances as one matrix product (not a pixels x 256 x 3 array)
        distinct, each = np.unique(codes[off], return_inverse=True)
        found = np.stack([distinct >> 16, (distinct >> 8) & 255, distinct & 255], axis=1).astype(np.float64)
        colours = _magma()
        distances = (colours**2).sum(axis=1)[None, :] - 2.0 * found @ colours.T  # each row's |found|^2 left out
        levels[off] = distances.argmin(axis=1)[each]
    return levels


def _plot_box(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Pixel rows [top, bottom) and columns [left, right) of the plot in a picture of ``size``."""
    width, height = size
    return (
        int(np.ceil(height * (1 - SUBPLOT_BOX["top"]))),
        int(height * (1 - SUBPLOT_BOX["bottom"])),
        int(width * SUBPLOT_BOX["left"]),
        int(np.ceil(width * SUBPLOT_BOX["right"])),
    )


def _plot_geometry(size: tuple[int, int], frames: int) -> tuple[np.ndarray, np.ndarray]:
    """For a picture of ``size`` of ``frames`` STFT frames: the plot row nearest each band's middle,
    and the frame position each plot column shows (``audio.spectrogram_image``'s offsets undone)."""
    width, height = size
    top, bottom, left, right = _plot_box(size)
    box_top, box_bottom = height * (1 - SUBPLOT_BOX["top"]), height * (1 - SUBPLOT_BOX["bottom"])
    box_left, box_right = width * SUBPLOT_BOX["left"], width * SUBPLOT_BOX["right"]
    band_of_row = (box_bottom - (np.arange(top, bottom) + 0.5)) / (box_bottom - box_top) * KAGGLE_BANDS
    middles = np.arange(KAGGLE_BANDS) + 0.5 - BAND_OFFSET
    rows = np.abs(band_of_row[None, :] - middles[:, None]).argmin(axis=1)
    frame_of_column = (np.arange(left, right) + 0.5 - box_left) / (box_right - box_left) * frames
    return rows, frame_of_column + FRAME_OFFSET - 0.5
