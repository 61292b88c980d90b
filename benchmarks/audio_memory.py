"""Peak memory of reading long and many-channel audio: the package's block-by-block reader against
librosa decoding the whole file.

    python benchmarks/audio_memory.py --scratch /tmp/audio-memory

Writes each file (a tone, block by block) into --scratch, reads it with ``load_audio`` (and, for the
many-channel file, with ``librosa.load``) under ``tracemalloc``, prints one line per file and
deletes it. The files take up to 700 MB of disk, one at a time.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile

from multimodal_genre.audio import load_audio

CASES = (  # name, seconds, sample rate, channels, sample format
    ("10min-96kHz-6ch.wav", 600, 96_000, 6, "PCM_16"),
    ("hour-22kHz-mono.wav", 3_590, 22_050, 1, "PCM_16"),
    ("hour-8kHz-8bit.wav", 3_590, 8_000, 1, "PCM_U8"),
    ("hour-44kHz-stereo.mp3", 3_590, 44_100, 2, "MPEG_LAYER_III"),
)


def write_tone(path: Path, seconds: int, rate: int, channels: int, subtype: str) -> None:
    with soundfile.SoundFile(path, "w", rate, channels, subtype=subtype) as handle:
        for start in range(0, seconds, 10):
            times = (np.arange(10 * rate) + start * rate) / rate
            handle.write(np.repeat((0.3 * np.sin(2 * np.pi * 440 * times))[:, None], channels, axis=1))


def peak(read: Callable[[], np.ndarray]) -> tuple[float, float, int]:
    """Seconds, peak traced megabytes and samples of one read."""
    tracemalloc.start()
    started = time.perf_counter()
    samples = read()
    seconds = time.perf_counter() - started
    megabytes = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return seconds, megabytes, len(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch", type=Path, required=True, help="folder for the audio files (deleted after)")
    args = parser.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    for name, seconds, rate, channels, subtype in CASES:
        path = args.scratch / name
        write_tone(path, seconds, rate, channels, subtype)
        size = path.stat().st_size / 1e6
        spent, megabytes, samples = peak(lambda path=path: load_audio(path))
        print(f"{name}: {size:.0f} MB file, load_audio {spent:.1f} s, peak {megabytes:.0f} MB, {samples} samples")
        if channels > 1:
            import librosa

            spent, megabytes, _ = peak(lambda path=path: librosa.load(path, sr=22_050, mono=True)[0])
            print(f"{name}: librosa.load of the whole file {spent:.1f} s, peak {megabytes:.0f} MB")
        path.unlink()


if __name__ == "__main__":
    main()
