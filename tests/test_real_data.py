"""The real Kaggle GTZAN files, named by GTZAN_DIR: the figures every later result depends on.

Skipped on a machine without the data; under CI=true a missing GTZAN_DIR is a failure instead.
"""

import contextlib
import dataclasses
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from multimodal_genre.audio import extract_audio
from multimodal_genre.cli import main
from multimodal_genre.data import GENRES, MissingImageWarning, holdout_split, kfold_splits, load_dataset
from multimodal_genre.data.images import open_image, preprocess, to_unit_float
from multimodal_genre.data.layout import CSV_COLUMNS, FEATURE_COLUMNS, FEATURES_CSV, PLOT_COLS, PLOT_ROWS, image_path
from multimodal_genre.prediction import predict_one
from multimodal_genre.runs import load_model_run

from conftest import FAST_CONFIG, required_by_ci

pytestmark = pytest.mark.real_data

KNOWN_DUPLICATES = [
    ["disco.00098", "disco.00099"],
    ["hiphop.00039", "hiphop.00045"],
    ["hiphop.00076", "hiphop.00078"],
    ["metal.00034", "metal.00094"],
    ["metal.00040", "metal.00061"],
    ["metal.00041", "metal.00062"],
    ["metal.00042", "metal.00063"],
    ["metal.00043", "metal.00064"],
    ["metal.00044", "metal.00065"],
    ["metal.00045", "metal.00066"],
    ["metal.00058", "rock.00016"],
    ["pop.00054", "pop.00060"],
    ["pop.00067", "pop.00071"],
    ["reggae.00081", "reggae.00082"],
]


@pytest.fixture(scope="module")
def gtzan_root() -> Path:
    return Path(required_by_ci("GTZAN_DIR", "the real dataset, e.g. ../shared/gtzan"))


@pytest.fixture(scope="module")
def loaded(gtzan_root, config):
    with pytest.warns(MissingImageWarning) as caught:
        dataset = load_dataset(gtzan_root, dataclasses.replace(config.data, cache=False))
    return dataset, [str(warning.message) for warning in caught if warning.category is MissingImageWarning]


def test_csv_header_is_the_layout_this_package_expects(gtzan_root):
    header = (gtzan_root / FEATURES_CSV).read_bytes().split(b"\r\n", 1)[0].decode()
    assert header.split(",") == list(CSV_COLUMNS)


def test_999_tracks_in_10_genres_with_57_features(loaded):
    dataset, warnings = loaded
    assert len(dataset) == 999
    assert np.bincount(dataset.labels).tolist() == [100, 100, 100, 100, 100, 99, 100, 100, 100, 100]
    assert dataset.features.shape == (999, 57)
    assert dataset.images.shape == (999, 64, 99, 1)
    assert dataset.dropped == ("jazz.00054.wav",)
    assert len(warnings) == 1 and "jazz.00054.wav" in warnings[0]
    assert dataset.synthetic is False
    assert GENRES[dataset.labels[0]] == "blues" and dataset.track_ids[0] == "blues.00000"


def test_14_duplicate_groups_and_985_distinct(loaded):
    dataset, _ = loaded
    assert dataset.duplicate_sets() == KNOWN_DUPLICATES
    assert len(np.unique(dataset.groups)) == 985


def test_blues_00000_is_joined_to_blues00000_png_without_its_border(loaded, gtzan_root, config):
    dataset, _ = loaded
    expected = preprocess(open_image(image_path(gtzan_root, "blues", "blues.00000.wav")), config.data.image)
    np.testing.assert_array_equal(dataset.images[0], to_unit_float(expected))
    # The border is white; the plot's top rows are near-black in every GTZAN spectrogram.
    assert dataset.images[:, 0].mean() < 0.2


def test_no_duplicate_group_crosses_a_split(loaded, config):
    dataset, _ = loaded
    splits = [holdout_split(dataset.labels, dataset.groups, config.split)]
    splits += kfold_splits(dataset.labels, dataset.groups, config.split)
    for split in splits:
        sides = [set(dataset.groups[side].tolist()) for side in (split.train, split.validation, split.test)]
        assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
        assert sum(map(len, (split.train, split.validation, split.test))) == 999
    tests = np.sort(np.concatenate([split.test for split in splits[1:]]))
    np.testing.assert_array_equal(tests, np.arange(999))


@pytest.fixture(scope="module")
def fused_run(gtzan_root, tmp_path_factory) -> tuple[Path, int, str]:
    """Smoke run: the whole train command on the real files, small model, 5 epochs."""
    folder = tmp_path_factory.mktemp("real")
    settings = folder / "five_epochs.yaml"
    config = yaml.safe_load(FAST_CONFIG.read_text())
    config["models"]["fused"]["training"]["epochs"] = 5
    settings.write_text(yaml.safe_dump(config))
    out = folder / "fused"
    command = ["train", "--model", "fused", "--data", str(gtzan_root), "--config", str(settings), "--out", str(out)]
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        status = main(command)
    return out, status, printed.getvalue()


def test_fused_model_trains_on_the_real_data_for_a_few_epochs(fused_run):
    out, status, printed = fused_run
    assert status == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["macro_f1"] > 0.3, metrics  # chance is 0.1
    predictions = pd.read_csv(out / "predictions.csv")
    assert 150 <= len(predictions) <= 250 and predictions["track"].str.match(r"[a-z]+\.\d{5}").all()
    assert "fused    hold-out split: macro-F1" in printed


@pytest.fixture(scope="module")
def extracted(gtzan_root) -> dict[str, tuple[dict[str, float], Image.Image]]:
    """Feature row and picture of each of the ten GTZAN clips in genres_original, made from the audio."""
    clips = {genre: gtzan_root / "genres_original" / genre / f"{genre}.00000.wav" for genre in GENRES}
    found = {genre: extract_audio(path) for genre, path in clips.items()}
    return {genre: (item.rows[0], item.images[0]) for genre, item in found.items()}


def test_features_from_the_audio_match_the_csv(extracted, gtzan_root):
    table = pd.read_csv(gtzan_root / FEATURES_CSV).set_index("filename")
    ours = pd.DataFrame({f"{genre}.00000.wav": row for genre, (row, _) in extracted.items()}).T
    errors = (ours - table.loc[ours.index, ours.columns]).abs() / table.loc[ours.index, ours.columns].abs()
    assert errors.median().median() < 0.01  # the target is 1%; measured: under 0.001%
    # Every feature but the two means that hover around zero within 5%; measured: at most 0.1%.
    assert (errors.drop(columns=["harmony_mean", "perceptr_mean"]) < 0.005).all().all(), errors.max().nlargest(3)


def test_pictures_from_the_audio_match_the_kaggle_pngs(extracted, gtzan_root):
    (top, bottom), (left, right) = PLOT_ROWS, PLOT_COLS
    for genre, (_, picture) in extracted.items():
        kaggle = np.asarray(open_image(image_path(gtzan_root, genre, f"{genre}.00000.wav")), dtype=float)
        ours = np.asarray(picture, dtype=float)
        assert ours.shape == kaggle.shape
        box = (slice(top, bottom + 1), slice(left, right + 1))
        difference = np.abs(ours[box][..., :3] - kaggle[box][..., :3]).mean()
        assert difference < 1.0, (genre, difference)  # of 255; measured: at most 0.47
        assert (ours[~_box_mask(ours.shape, box)] == kaggle[~_box_mask(kaggle.shape, box)]).all(), genre


def test_the_model_predicts_the_same_genre_from_the_audio_as_from_the_kaggle_files(extracted, fused_run, gtzan_root):
    run = load_model_run(fused_run[0])
    table = pd.read_csv(gtzan_root / FEATURES_CSV).set_index("filename")
    agree = 0
    for genre, (row, picture) in extracted.items():
        kaggle_row = table.loc[f"{genre}.00000.wav", list(FEATURE_COLUMNS)].to_dict()
        kaggle_picture = image_path(gtzan_root, genre, f"{genre}.00000.wav")
        ours, theirs = predict_one(run, picture, row), predict_one(run, kaggle_picture, kaggle_row)
        agree += max(ours, key=ours.get) == max(theirs, key=theirs.get)
    assert agree >= 9  # measured: 10 of 10


def _box_mask(shape: tuple[int, ...], box: tuple[slice, slice]) -> np.ndarray:
    mask = np.zeros(shape[:2], dtype=bool)
    mask[box] = True
    return mask


@pytest.fixture(scope="module")
def formats(gtzan_root, tmp_path_factory) -> dict[str, dict[str, Path]]:
    """Each of the ten clips as WAV, MP3 at 44.1 kHz stereo, OGG at 48 kHz, and its first 12 s."""
    import soundfile
    import soxr

    folder = tmp_path_factory.mktemp("formats")
    made: dict[str, dict[str, Path]] = {}
    for genre in GENRES:
        original = gtzan_root / "genres_original" / genre / f"{genre}.00000.wav"
        samples, rate = soundfile.read(original, dtype="float32")
        stereo = np.repeat(soxr.resample(samples, rate, 44100)[:, None], 2, axis=1)
        made[genre] = {"wav": original, "mp3": folder / f"{genre}.mp3", "ogg": folder / f"{genre}.ogg"}
        soundfile.write(made[genre]["mp3"], stereo, 44100, format="MP3")
        soundfile.write(made[genre]["ogg"], soxr.resample(samples, rate, 48000), 48000, format="OGG", subtype="VORBIS")
        made[genre]["first 12 s"] = folder / f"{genre}-first12.wav"
        soundfile.write(made[genre]["first 12 s"], samples[: 12 * rate], rate)
    return made


def test_a_clip_gets_the_same_top_genre_as_wav_mp3_ogg_and_its_first_12_seconds(formats, fused_run):
    from multimodal_genre.audio import ShortAudioWarning
    from multimodal_genre.prediction import predict_audio

    run = load_model_run(fused_run[0])
    agree = {kind: 0 for kind in ("mp3", "ogg", "first 12 s")}
    for files in formats.values():
        top = predict_audio(run, files["wav"]).top(1)[0][0]
        for kind in agree:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ShortAudioWarning)
                agree[kind] += predict_audio(run, files[kind]).top(1)[0][0] == top
    # Measured with this five-epoch model: 10 of 10 for MP3 and OGG, 8 of 10 for the first 12 s (the
    # default fused network: 9 of 10; hiphop.00000's first 12 s read as disco, by both pictures of it).
    assert agree["mp3"] == agree["ogg"] == 10, agree
    assert agree["first 12 s"] >= 8, agree


def test_gtzan_without_its_audio_is_read_by_the_picture_route(loaded, config):
    from multimodal_genre.errors import DataError
    from multimodal_genre.settings import replaced
    from multimodal_genre.views import with_sources

    dataset, _ = loaded
    assert not dataset.has_audio and (dataset.audio != "").sum() == 10  # the ten clips in genres_original
    assert with_sources(config, dataset).models["svm"].pretrained.source == "picture"
    asked = config.with_model("svm", replaced(config.models["svm"], "pretrained.source", "audio"))
    with pytest.raises(DataError, match=r"models.svm reads musicnn's input from the audio .* 989 of 999 tracks"):
        with_sources(asked, dataset)
