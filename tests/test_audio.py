"""Audio in, GTZAN-style feature row and spectrogram out: the layout, the windows, the dataset folder
``extract`` writes, ``predict`` on audio files, and one clear line for every file that cannot be read.
The comparison with the real Kaggle files is in tests/test_real_data.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from multimodal_genre.audio import (
    SAMPLE_RATE,
    ShortAudioWarning,
    extract,
    extract_audio,
    extract_cached,
    feature_row,
    filled,
    load_audio,
    spectrogram_image,
    windows,
)
from multimodal_genre.cli import main
from multimodal_genre.data import load_dataset
from multimodal_genre.data.cache import default_cache_dir
from multimodal_genre.data.layout import CSV_COLUMNS, FEATURE_COLUMNS, FEATURES_CSV, PLOT_COLS, PLOT_ROWS
from multimodal_genre.errors import AudioError

from conftest import unfolded


def music(seconds: float, pitch: float = 220.0, seed: int = 0) -> np.ndarray:
    """A tone with a pulse at 120 beats per minute and a little noise: enough for every feature."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pulse = np.exp(-40 * (t % 0.5))
    wave = 0.3 * np.sin(2 * np.pi * pitch * t) + 0.4 * pulse * np.sin(2 * np.pi * 3 * pitch * t)
    return (wave + 0.02 * rng.normal(size=t.size)).astype(np.float32)


def write_audio(path, seconds: float, **options) -> str:
    soundfile.write(path, music(seconds, **options), SAMPLE_RATE)
    return str(path)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 30 s clip, GTZAN's length."""
    return write_audio(tmp_path_factory.mktemp("audio") / "song.wav", 30.0)


def test_the_feature_row_has_the_57_csv_features_in_order(clip):
    row = feature_row(load_audio(clip))
    assert list(row) == list(FEATURE_COLUMNS) and all(np.isfinite(value) for value in row.values())
    assert 100 < row["tempo"] < 130  # the pulse is at 120 beats per minute
    assert row["zero_crossing_rate_mean"] > 0 and row["rms_mean"] > 0


NOISE = np.random.default_rng(2).normal(0.0, 0.1, SAMPLE_RATE * 10).astype(np.float32)


@pytest.mark.parametrize("samples", [music(30.0), music(30.0, pitch=440.0, seed=1), NOISE])
def test_the_tempo_is_beat_tracks_without_its_tracker(samples):
    """The CSV's tempo came from beat_track; the row takes the same number without importing it."""
    import librosa.beat

    tempo = float(np.atleast_1d(librosa.beat.beat_track(y=samples, sr=SAMPLE_RATE)[0])[0])
    assert feature_row(samples)["tempo"] == tempo


def test_the_picture_is_drawn_in_the_kaggle_layout(clip):
    pixels = np.asarray(spectrogram_image(load_audio(clip)))
    assert pixels.shape == (288, 432, 4) and (pixels[..., 3] == 255).all()
    (top, bottom), (left, right) = PLOT_ROWS, PLOT_COLS
    plot = np.zeros(pixels.shape[:2], dtype=bool)
    plot[top : bottom + 1, left : right + 1] = True
    assert (pixels[~plot][:, :3] == 255).all(), "the border is blank white"
    assert (pixels[top, left:right, :3] < 60).all() and (pixels[top:bottom, left, :3] < 60).all(), "a dark frame"
    inside = pixels[top + 1 : bottom, left + 1 : right, :3].astype(int)
    # The 220 Hz tone is a bright band in about the ninth of 128 mel bands (15 pixels from the bottom);
    # the top half, without sound, is magma's black.
    brightness = inside.mean(axis=(1, 2))
    assert len(brightness) - 25 < brightness.argmax() < len(brightness) - 5 and brightness.max() > 100
    assert inside[: len(inside) // 2].mean() < 10


def test_flac_ogg_and_mp3_are_read(tmp_path, clip):
    samples = load_audio(clip)
    soundfile.write(tmp_path / "song.flac", samples, SAMPLE_RATE)
    soundfile.write(tmp_path / "song.ogg", samples, SAMPLE_RATE)
    soundfile.write(tmp_path / "song.mp3", samples, SAMPLE_RATE, format="MP3", subtype="MPEG_LAYER_III")
    np.testing.assert_allclose(load_audio(tmp_path / "song.flac"), samples, atol=1e-4)  # 16-bit FLAC
    for lossy in ("song.ogg", "song.mp3"):
        decoded = load_audio(tmp_path / lossy)
        assert abs(len(decoded) - len(samples)) < SAMPLE_RATE // 10, lossy
        assert np.corrcoef(decoded[: SAMPLE_RATE * 5], samples[: SAMPLE_RATE * 5])[0, 1] > 0.9, lossy


@pytest.mark.parametrize(
    ("rate", "channels", "subtype", "suffix"),
    [
        (96_000, 6, "PCM_16", "wav"),
        (22_050, 1, "PCM_U8", "wav"),
        (44_100, 2, "PCM_24", "flac"),
        (8_000, 1, "FLOAT", "wav"),
        (44_100, 2, "MPEG_LAYER_III", "mp3"),
    ],
    ids=["96kHz-6ch", "8-bit", "44.1kHz-stereo-24-bit-flac", "8kHz-float", "44.1kHz-stereo-mp3"],
)
def test_odd_audio_is_read_block_by_block_as_librosa_reads_it_whole(rate, channels, subtype, suffix, tmp_path):
    import librosa

    wave = np.resize(music(12), int(12 * rate))  # the tone, at another rate it is just another tone
    path = tmp_path / f"odd.{suffix}"
    soundfile.write(path, np.stack([wave * (0.5 + 0.1 * k) for k in range(channels)], axis=1), rate, subtype=subtype)
    with pytest.warns(ShortAudioWarning):
        samples = load_audio(path)
    whole = librosa.to_mono(soundfile.read(path, dtype="float32", always_2d=True)[0].T)  # librosa.load, whole
    np.testing.assert_array_equal(
        samples, librosa.resample(whole, orig_sr=rate, target_sr=SAMPLE_RATE, res_type="soxr_hq")
    )


def test_reading_takes_the_mono_result_and_one_block_of_memory_whatever_the_channels(tmp_path):
    """Two minutes of 96 kHz 6-channel audio: librosa would hold 276 MB of samples before mixing down."""
    import tracemalloc

    wave = np.resize(music(10), 10 * 96_000)
    path = tmp_path / "surround.wav"
    with soundfile.SoundFile(path, "w", 96_000, 6, subtype="PCM_16") as handle:
        for _ in range(12):
            handle.write(np.repeat(wave[:, None], 6, axis=1))
    tracemalloc.start()
    samples = load_audio(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(samples) == 120 * SAMPLE_RATE
    assert peak < samples.nbytes + 80e6  # the result (10.6 MB) and about one 10 s block (23 MB) of the file


def test_a_wav_whose_header_claims_more_than_it_holds_gives_what_it_holds(tmp_path, clip):
    content = Path(clip).read_bytes()
    (tmp_path / "cut.wav").write_bytes(content[: len(content) // 2])  # the header still claims 30 s
    with pytest.warns(ShortAudioWarning, match="15.0 s"):
        assert abs(len(load_audio(tmp_path / "cut.wav")) - 15 * SAMPLE_RATE) < SAMPLE_RATE // 100


def test_audio_longer_than_an_hour_is_refused_with_one_line(tmp_path):
    path = tmp_path / "long.wav"
    soundfile.write(path, np.zeros(3_700 * 1_000, dtype=np.float32), 1_000, subtype="PCM_U8")  # 3.7 MB
    with pytest.raises(AudioError, match=r"long.wav: 3700 s of audio, longer than the 3600 s this reads"):
        load_audio(path)


def test_long_audio_is_cut_into_30_second_windows_that_cover_it():
    samples = np.arange(int(95 * SAMPLE_RATE), dtype=np.float32)
    pieces = windows(samples)
    assert len(pieces) == 4 and all(len(piece) == 30 * SAMPLE_RATE for piece in pieces)
    assert len(windows(samples[: 3 * 661794])) == 3  # three GTZAN clips end to end: three windows
    assert pieces[0][0] == samples[0] and pieces[-1][-1] == samples[-1]
    gtzan = samples[:661794]  # a GTZAN clip is a little over 30 s and stays whole
    assert len(windows(gtzan)) == 1 and len(windows(gtzan)[0]) == 661794


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda path: path.write_text("not audio at all"), "not readable as audio"),
        (lambda path: path.write_bytes(b""), "the file is empty"),
        (lambda path: soundfile.write(path, music(1.0), SAMPLE_RATE, format="WAV"), "1.0 s of audio, too short"),
        (lambda path: soundfile.write(path, np.zeros(SAMPLE_RATE * 10), SAMPLE_RATE, format="WAV"), "silent"),
        (lambda path: None, "no such audio file"),
    ],
    ids=["not audio", "empty", "one second", "silence", "missing"],
)
def test_a_file_that_cannot_be_used_is_one_line_naming_it(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError, match=message) as caught:
        load_audio(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_audio_shorter_than_a_clip_is_drawn_repeated_to_a_clips_length_beside_its_own_features(tmp_path):
    short = write_audio(tmp_path / "short.wav", 12.0)
    with pytest.warns(ShortAudioWarning, match="its picture repeats it to fill 30 s"):
        found = extract_audio(short)
    with pytest.warns(ShortAudioWarning):
        samples = load_audio(short)
    drawn = filled(samples)
    assert len(drawn) == found.lengths[0] == 30 * SAMPLE_RATE
    assert np.array_equal(drawn[: len(samples)], samples) and np.array_equal(
        drawn[len(samples) : 2 * len(samples)], samples
    )
    assert np.array_equal(np.asarray(found.images[0]), np.asarray(spectrogram_image(drawn)))
    assert found.rows[0] == feature_row(samples)  # the clip's own features, not the repeated audio's


def test_audio_shorter_than_a_clip_is_used_with_a_warning(tmp_path):
    with pytest.warns(ShortAudioWarning, match="12.0 s, shorter than GTZAN's 30 s clips"):
        load_audio(write_audio(tmp_path / "short.wav", 12.0))


def test_extract_writes_a_dataset_every_command_can_read(tmp_path, clip, config, capsys):
    out = tmp_path / "mine"
    other = write_audio(tmp_path / "other song.flac", 10.0, pitch=330.0, seed=1)
    broken = tmp_path / "broken.mp3"
    broken.write_text("no audio here")
    assert main(["extract", clip, str(broken), other, "--out", str(out), "--label", "rock"]) == 2
    captured = capsys.readouterr()
    assert f"error: {broken}: not readable as audio" in unfolded(captured.err)
    assert "Added 2 of 3 files" in captured.out
    assert "other song.flac: 10.0 s, shorter than GTZAN's 30 s clips" in unfolded(captured.err)

    raw = (out / FEATURES_CSV).read_bytes()
    assert raw.count(b"\r\n") == 3 and raw.split(b"\r\n")[0].decode().split(",") == list(CSV_COLUMNS)
    table = pd.read_csv(out / FEATURES_CSV)
    assert table["filename"].tolist() == ["song.wav", "other song.flac"] and (table["label"] == "rock").all()
    assert table["length"].tolist() == [30 * SAMPLE_RATE, 30 * SAMPLE_RATE]  # 10 s drawn repeated to a clip's 30 s
    assert (out / "images_original" / "rock" / "song.png").is_file()
    assert (out / "images_original" / "rock" / "other song.png").is_file()

    dataset = load_dataset(out, dataclasses.replace(config.data, cache=False))
    assert dataset.track_ids.tolist() == ["song", "other song"] and dataset.images.shape[0] == 2
    np.testing.assert_allclose(dataset.features[0], list(feature_row(load_audio(clip)).values()))


def test_extract_adds_to_a_folder_and_keeps_what_is_there(tmp_path, clip):
    out = tmp_path / "mine"
    assert extract([clip], out, label="jazz").errors == []
    before = (out / FEATURES_CSV).read_bytes()
    again = extract([clip], out, label="blues")  # same name: refused, nothing lost
    assert again.images == [] and "already has a track named song.wav" in again.errors[0]
    assert (out / FEATURES_CSV).read_bytes() == before
    gtzan_name = write_audio(tmp_path / "blues.00007.wav", 6.0)  # refused before it is read
    assert extract([gtzan_name], out, label="rock").errors == [
        "blues.00007.wav: label 'rock' disagrees with its file name and image folder 'blues'"
    ]
    with pytest.warns(ShortAudioWarning):
        unlabelled = extract([write_audio(tmp_path / "new.wav", 8.0, seed=2)], out)
    assert unlabelled.images == [out / "images_original" / "new.png"]
    assert pd.read_csv(out / FEATURES_CSV, keep_default_na=False)["label"].tolist() == ["jazz", ""]


def test_extract_takes_the_middle_of_a_long_file_and_says_so(tmp_path):
    result = extract([write_audio(tmp_path / "long.wav", 70.0)], tmp_path / "out")
    assert result.notes == [f"{tmp_path / 'long.wav'}: 70.0 s long; its middle 30 s were extracted"]
    assert pd.read_csv(tmp_path / "out" / FEATURES_CSV)["length"].tolist() == [30 * SAMPLE_RATE]


def test_extract_refuses_an_unknown_label(tmp_path, clip, capsys):
    with pytest.raises(SystemExit):
        main(["extract", clip, "--out", str(tmp_path), "--label", "polka"])
    assert "invalid choice: 'polka'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def fused_run(comparison):
    """The fused model the shared synthetic comparison trained."""
    return comparison.directory / "fused"


def test_predict_scores_audio_files_and_names_the_ones_it_cannot(fused_run, clip, tmp_path, capsys):
    long = write_audio(tmp_path / "long.ogg", 61.0)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    table = tmp_path / "predictions.csv"
    assert main(["predict", str(fused_run), clip, str(empty), long, "--out", str(table)]) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if ": " in line and "Wrote" not in line]
    assert names_file(lines[0], clip) and names_file(lines[1], long)
    assert lines[1].endswith("(mean of 2 windows of 30 s)")
    assert f"error: {empty}: the file is empty" in unfolded(captured.err)
    scores = pd.read_csv(table)
    probabilities = scores.filter(like="p_")
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert scores["windows"].tolist() == [1, 2]
    top = probabilities.idxmax(axis=1).str.removeprefix("p_").tolist()
    assert top == scores["predicted_genre"].tolist()
    assert lines[0].split(": ", 1)[1].startswith(f"{top[0]} {probabilities.iloc[0].max():.2f}")


def names_file(line: str, path: str) -> bool:
    """Whether a per-file line starts with ``path``, or its tail cut from the left with the file name whole."""
    shown = line.split(": ", 1)[0]
    return shown.endswith(Path(path).name) and path.endswith(shown.removeprefix("..."))


def test_an_extraction_is_read_back_from_the_cache_by_the_files_content(tmp_path, clip, monkeypatch):
    import multimodal_genre.audio as audio

    first = extract_cached(clip, tmp_path / "cache")
    monkeypatch.setattr(audio, "feature_row", lambda samples: pytest.fail("extracted again"))
    again = extract_cached(clip, tmp_path / "cache")
    assert again.rows == first.rows and again.lengths == first.lengths and again.seconds == first.seconds
    assert [np.asarray(image).tobytes() for image in again.images] == [np.asarray(i).tobytes() for i in first.images]
    assert again.samples == [] and len(first.samples) == 1
    edited = write_audio(tmp_path / "song.wav", 30.0, seed=5)  # same name, other content: extracted anew
    with pytest.raises(pytest.fail.Exception, match="extracted again"):
        extract_cached(edited, tmp_path / "cache")


def test_predict_again_on_the_same_audio_reads_it_from_the_cache(fused_run, clip, tmp_path, capsys):
    """The second call gives the same probabilities from the cached extraction (the pre-trained view's
    cache: tests/test_pretrained.py)."""
    table = tmp_path / "first.csv"
    assert main(["predict", str(fused_run), clip, "--out", str(table)]) == 0
    cached = sorted(path.name.split("-")[1] for path in default_cache_dir().glob("clip-*.npy"))
    assert cached == ["pictures", "rows"]
    assert main(["predict", str(fused_run), clip, "--out", str(tmp_path / "again.csv")]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(table), pd.read_csv(tmp_path / "again.csv"))
    assert "Loading the model in" in capsys.readouterr().err


def test_predict_takes_audio_or_a_dataset_not_both(fused_run, clip, capsys):
    assert main(["predict", str(fused_run), clip, "--tracks", "blues.00000"]) == 2
    assert "either AUDIO files or a dataset's tracks" in capsys.readouterr().err
