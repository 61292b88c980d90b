"""musicnn reading each clip from its audio (``pretrained.source``): chosen against the dataset when a
run starts, recorded in the run, and taken again to predict, on synthetic audio and on GTZAN's ten
clips with audio."""

from __future__ import annotations

import dataclasses
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import yaml

from multimodal_genre.audio import SAMPLE_RATE, ShortAudioWarning, extract, load_audio
from multimodal_genre.config import load_config
from multimodal_genre.data import GENRES, load_dataset, split_for
from multimodal_genre.data.layout import AUDIO_DIR, FEATURES_CSV, IMAGES_DIR
from multimodal_genre.errors import DataError
from multimodal_genre.musicnn import Embedding, inputs
from multimodal_genre.musicnn.embeddings import dataset_embedding
from multimodal_genre.musicnn.network import pretrained
from multimodal_genre.prediction import predict_audio, predict_tracks
from multimodal_genre.runs import load_model_run
from multimodal_genre.settings import replaced
from multimodal_genre.training import run_model
from multimodal_genre.views import prepare, with_sources

from conftest import FAST_CONFIG, required_by_ci

TRACKS_PER_GENRE = 5
SECONDS = 8.0


@pytest.fixture(scope="module", autouse=True)
def shared_weights():
    weights = required_by_ci("MULTIMODAL_GENRE_WEIGHTS", "the folder of shared weights, with musicnn/")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MULTIMODAL_GENRE_WEIGHTS", weights)
        yield


def song(genre: int, seed: int) -> np.ndarray:
    """A few seconds of a pulse and a tone whose pitch and tempo tell the genre."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    pitch, beat = 110.0 * 2 ** (genre / 4), 0.3 + 0.05 * genre
    pulse = np.exp(-30 * (t % beat))
    wave = 0.3 * np.sin(2 * np.pi * pitch * t) + 0.4 * pulse * np.sin(2 * np.pi * 3 * pitch * t)
    return (wave + 0.02 * rng.normal(size=t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def audio_root(tmp_path_factory) -> Path:
    """A dataset in the full Kaggle layout: every track's audio under genres_original/ beside its
    feature row and picture (made from that audio)."""
    root = tmp_path_factory.mktemp("with-audio") / "gtzan"
    for code, genre in enumerate(GENRES):
        folder = root / AUDIO_DIR / genre
        folder.mkdir(parents=True)
        paths = [folder / f"{genre}.{index:05d}.wav" for index in range(TRACKS_PER_GENRE)]
        for index, path in enumerate(paths):
            soundfile.write(path, song(code, seed=100 * code + index), SAMPLE_RATE)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortAudioWarning)
            assert not extract(paths, root, label=genre).errors
    return root


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    settings = yaml.safe_load(FAST_CONFIG.read_text())
    branch = {"activations": ["mean_pool"], "widths": [32], "dropout": 0.3, "patches": 1, "source": "auto"}
    settings["models"]["musicnn"] = {"pretrained": branch, "head": {"widths": []}, "training": {"epochs": 30}}
    settings["split"] = {"test_fraction": 0.2, "validation_fraction": 0.2}
    path = tmp_path_factory.mktemp("config") / "audio.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def test_auto_reads_the_audio_where_every_track_has_it_and_the_picture_where_not(audio_root, config_file, tmp_path):
    config = load_config(config_file)
    dataset = load_dataset(audio_root, config.data)
    assert dataset.has_audio
    assert with_sources(config, dataset).models["musicnn"].pretrained.source == "audio"
    (audio_root / AUDIO_DIR / "rock" / "rock.00003.wav").rename(tmp_path / "away.wav")
    try:
        fewer = load_dataset(audio_root, config.data)
        assert not fewer.has_audio
        assert with_sources(config, fewer).models["musicnn"].pretrained.source == "picture"
        asked = config.with_model("musicnn", replaced(config.models["musicnn"], "pretrained.source", "audio"))
        named = r"models.musicnn reads musicnn's input from the audio .* 1 of 50 tracks have none .*\(rock.00003\)"
        with pytest.raises(DataError, match=named):
            with_sources(asked, fewer)
    finally:
        (tmp_path / "away.wav").rename(audio_root / AUDIO_DIR / "rock" / "rock.00003.wav")


def test_the_audio_view_is_musicnns_reading_of_each_file(audio_root, config_file):
    config = load_config(config_file)
    dataset = load_dataset(audio_root, dataclasses.replace(config.data, cache=False))
    view = Embedding("musicnn", "msd", ("tags",), patches=2, source="audio")
    uncached = dataclasses.replace(config.data, cache=False)
    values = dataset_embedding(dataset, view, uncached)
    network = pretrained("musicnn", "msd")
    for row in (0, 27):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortAudioWarning)
            samples = load_audio(dataset.audio[row])
        tags = network.predict_on_batch(inputs.patches(inputs.from_audio(samples), 2))["tags"]
        np.testing.assert_allclose(values[row], np.concatenate([tags.mean(axis=0), tags.max(axis=0)]), atol=1e-5)
    picture = dataset_embedding(dataset, dataclasses.replace(view, source="picture"), uncached)
    assert not np.allclose(picture, values, atol=1e-2)  # another route, another view
    assert view.key == "musicnn_msd_audio_tags_2patches"


def test_a_run_on_audio_records_the_route_and_predicts_a_file_as_its_track(audio_root, config_file, tmp_path):
    config = load_config(config_file)
    dataset = load_dataset(audio_root, config.data)
    out = tmp_path / "run"
    scores = run_model("musicnn", prepare(dataset, config, ["musicnn"]), split_for(dataset, config.split), out)
    assert scores["accuracy"] > 0.2  # pitch and tempo tell the genres apart: above the 0.1 of guessing
    recorded = yaml.safe_load((out / "config.yaml").read_text())
    assert recorded["models"]["musicnn"]["pretrained"]["source"] == "audio"
    run = load_model_run(out)
    assert list(run.model.input) == ["musicnn_msd_audio_mean_pool_1patches"]
    track = "jazz.00002"
    from_dataset = predict_tracks(run, dataset, [track]).filter(like="p_").to_numpy()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortAudioWarning)
        from_file = predict_audio(run, audio_root / AUDIO_DIR / "jazz" / f"{track}.wav")
    np.testing.assert_allclose(list(from_file.probabilities.values()), from_dataset, atol=1e-5)
    (audio_root / AUDIO_DIR / "jazz" / f"{track}.wav").rename(tmp_path / "away.wav")
    try:
        with pytest.raises(DataError, match="reads musicnn's input from the audio"):
            predict_tracks(run, load_dataset(audio_root, config.data), [track])
    finally:
        (tmp_path / "away.wav").rename(audio_root / AUDIO_DIR / "jazz" / f"{track}.wav")


def test_gtzans_ten_clips_with_audio_are_read_from_it(tmp_path, config_file):
    """A dataset of the ten GTZAN clips whose audio the Kaggle download holds: auto reads musicnn's
    input from their audio, which tags them otherwise than their pictures do."""
    gtzan = Path(required_by_ci("GTZAN_DIR", "the real GTZAN dataset"))
    root = tmp_path / "ten"
    table = pd.read_csv(gtzan / FEATURES_CSV)
    clips = sorted((gtzan / AUDIO_DIR).glob("*/*.wav"))
    root.mkdir()
    table[table["filename"].isin([clip.name for clip in clips])].to_csv(root / FEATURES_CSV, index=False)
    for clip in clips:
        genre = clip.parent.name
        for kind, name in ((AUDIO_DIR, clip.name), (IMAGES_DIR, clip.stem.replace(".", "") + ".png")):
            (root / kind / genre).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(gtzan / kind / genre / name, root / kind / genre / name)
    config = load_config(config_file)
    dataset = load_dataset(root, dataclasses.replace(config.data, cache=False))
    assert len(dataset) == 10 and dataset.has_audio
    (view,) = with_sources(config, dataset).models["musicnn"].embeddings()
    assert view.source == "audio"
    data = dataclasses.replace(config.data, cache=False)
    heard = dataset_embedding(dataset, Embedding("musicnn", "msd", ("tags",), source="audio"), data)
    seen = dataset_embedding(dataset, Embedding("musicnn", "msd", ("tags",), source="picture"), data)
    correlations = [np.corrcoef(a[:50], b[:50])[0, 1] for a, b in zip(heard, seen, strict=True)]
    assert np.mean(correlations) < 0.6  # measured: about 0.3, as the direct route against the Kaggle picture
