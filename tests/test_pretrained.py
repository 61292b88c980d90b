"""The pre-trained music branch in the package: the musicnn model and the fused model's third branch,
their views computed once and cached, prediction from pictures and from audio by the picture route,
fine-tuning, and splits given as lists (the fault-filtered split)."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import yaml

from multimodal_genre.cli import main
from multimodal_genre.config import load_config
from multimodal_genre.data import MissingImageWarning, load_dataset, split_for, write_synthetic_dataset
from multimodal_genre.data.lists import listed_split
from multimodal_genre.errors import DataError
from multimodal_genre.families import family
from multimodal_genre.musicnn import embeddings
from multimodal_genre.musicnn.network import pretrained
from multimodal_genre.runs import load_model_run
from multimodal_genre.training import train_model
from multimodal_genre.views import prepare

from conftest import FAST_CONFIG, required_by_ci, tone

# The quick settings, with the pre-trained models back in and reading one patch a clip.
PRETRAINED = {"backbone": {"name": "musicnn", "weights": "msd", "fine_tune_from": None}, "activations": ["mean_pool"]}
PRETRAINED.update({"widths": [32], "dropout": 0.3, "patches": 1})


@pytest.fixture(scope="module", autouse=True)
def shared_weights():
    """musicnn's checkpoints from the shared weights folder (not downloaded), for the module's fixtures too."""
    weights = required_by_ci("MULTIMODAL_GENRE_WEIGHTS", "the folder of shared weights, with musicnn/")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MULTIMODAL_GENRE_WEIGHTS", weights)
        yield


@pytest.fixture(scope="module")
def small_root(tmp_path_factory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("small") / "gtzan", tracks_per_genre=10)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    settings = yaml.safe_load(FAST_CONFIG.read_text())
    settings["models"]["musicnn"] = {"pretrained": PRETRAINED, "head": {"widths": []}, "training": {"epochs": 30}}
    settings["models"]["fused"]["pretrained"] = PRETRAINED
    settings["split"] = {"validation_fraction": 0.2}  # ten tracks a genre: four validation folds, not eight
    path = tmp_path_factory.mktemp("config") / "pretrained.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory) -> Path:
    """A cache the module's tests share: musicnn's pass over the small dataset, made once by ``small``."""
    return tmp_path_factory.mktemp("module-cache")


@pytest.fixture(scope="module")
def small(small_root, config_file, module_cache):
    config = load_config(config_file)
    with pytest.warns(MissingImageWarning):
        dataset = load_dataset(small_root, dataclasses.replace(config.data, cache=False))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MULTIMODAL_GENRE_CACHE", str(module_cache))
        prepared = prepare(dataset, config, ["musicnn"])  # the pictures: no audio
        return prepared.dataset, prepared.config


@pytest.fixture
def warm_cache(small, module_cache, monkeypatch) -> None:
    """The commands of a test find the small dataset's musicnn view already computed."""
    monkeypatch.setenv("MULTIMODAL_GENRE_CACHE", str(module_cache))


def counting_embeds(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = embeddings.embed

    def counted(pictures, clips, embedding):
        calls.append(len(pictures))
        return real(pictures, clips, embedding)

    monkeypatch.setattr(embeddings, "embed", counted)
    return calls


def test_the_musicnn_model_reads_its_view_computed_once(small_root, config_file, tmp_path, monkeypatch, capsys):
    calls = counting_embeds(monkeypatch)
    common = ["--model", "musicnn", "--data", str(small_root), "--config", str(config_file)]
    assert main(["train", *common, "--out", str(tmp_path / "first")]) == 0
    first = " ".join(capsys.readouterr().out.split())
    assert main(["train", *common, "--out", str(tmp_path / "second")]) == 0
    assert "musicnn (msd) view of " in first and " pictures, once; cached in " in first  # the pass names itself
    assert "view of" not in capsys.readouterr().out  # and the second run reads the cache
    assert calls == [99]  # every picture once; the second training took the cached view
    run = load_model_run(tmp_path / "first")
    assert run.model.input_shape == (None, 2 * 753)  # mean and max over the patches of mean_pool
    metrics = json.loads((tmp_path / "first" / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.2  # the synthetic pictures' bands tell genre pairs apart: above chance
    # The report tells the settings the config changed apart from the route the run resolved itself.
    assert main(["report", str(tmp_path / "first"), "--out", str(tmp_path / "report")]) == 0
    configs = (tmp_path / "report" / "report.md").read_text().split("## Configs")[1].split("\n## ")[0]
    changed, resolved = configs.split("Not changed, resolved when the run started")
    assert "models.musicnn.pretrained.source" not in changed
    assert re.search(r"models\.musicnn\.pretrained\.source *\| *picture *\| *auto", resolved)


def test_the_fused_model_gains_a_third_branch(small):
    dataset, config = small
    split = split_for(dataset, config.split)
    trained = train_model(
        "fused", prepare(dataset, config.with_model("fused", config.models["fused"]), ["fused"]), split
    )
    view = config.models["fused"].embeddings()[0]
    assert set(trained.model.input) == {"image", "features", view.key}
    assert {"pretrained_genre_loss", "val_pretrained_genre_loss"} <= set(trained.history.columns)
    probabilities = trained.predict_proba(dataset.tracks(split.test))
    assert probabilities.shape == (len(split.test), 10)
    assert np.mean(probabilities.argmax(axis=1) == dataset.labels[split.test]) > 0.3


def test_a_view_scaled_by_blocks_weighs_each_block_the_same_and_reads_units_that_never_fire_as_0(small, tmp_path):
    dataset, config = small
    section = config.models["musicnn"]
    branch = dataclasses.replace(section.pretrained, activations=("mean_pool", "max_pool"), scaling="blocks")
    tuned = config.with_model("musicnn", dataclasses.replace(section, pretrained=branch))
    prepared = prepare(dataset, tuned, ["musicnn"])
    dataset = prepared.dataset
    split = split_for(dataset, tuned.split)
    trained = train_model("musicnn", prepared, split)
    rows = dataset.embeddings[branch.embedding.key][split.train].astype(np.float32)
    scaled = np.asarray(trained.model.get_layer("pretrained_standardised")(rows), dtype=np.float64)
    blocks = np.split(scaled.var(axis=0), np.cumsum(branch.embedding.blocks)[:-1])
    assert len(blocks) == 4 and np.allclose([block.sum() for block in blocks], blocks[0].sum(), rtol=1e-3)
    never_fire = rows.std(axis=0) <= 1e-6 * rows.std(axis=0).max()
    assert never_fire.any() and np.abs(scaled[:, never_fire]).max() < 1e-6
    assert np.isclose(scaled.var(axis=0)[~never_fire].mean(), 1.0, rtol=0.05)  # the scale of column by column
    probabilities = trained.predict_proba(dataset.tracks(split.test))
    assert np.mean(probabilities.argmax(axis=1) == dataset.labels[split.test]) > 0.2
    trained.save(tmp_path)
    again = family("musicnn").predict_proba(family("musicnn").load(tmp_path), dataset.tracks(split.test))
    np.testing.assert_allclose(again, probabilities, atol=1e-6)


def test_a_saved_pretrained_model_predicts_pictures_and_audio_by_the_picture_route(
    small_root, config_file, warm_cache, tmp_path, capsys, monkeypatch
):
    calls = counting_embeds(monkeypatch)
    run_dir = tmp_path / "run"
    common = ["--data", str(small_root), "--config", str(config_file)]
    assert main(["train", "--model", "musicnn", *common, "--out", str(run_dir)]) == 0
    assert calls == []  # the view the module computed once, from the cache
    capsys.readouterr()
    args = ["--data", str(small_root), "--tracks", "blues.00001", "rock.00003", "--format", "csv"]
    assert main(["predict", str(run_dir), *args]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert table["track"].tolist() == ["blues.00001", "rock.00003"]
    audio = tmp_path / "tone.wav"
    soundfile.write(audio, tone(), 22050)
    assert main(["predict", str(run_dir), str(audio)]) == 0
    first = capsys.readouterr().out
    assert "tone.wav" in first
    before = len(calls)
    assert main(["predict", str(run_dir), str(audio)]) == 0
    assert len(calls) == before and capsys.readouterr().out == first  # its view read back from the cache


def test_a_fine_tuned_branch_trains_the_network_from_a_layer(small, config_file, tmp_path):
    dataset, config = small
    backbone = {**PRETRAINED["backbone"], "fine_tune_from": "midend3_conv"}
    section = {"pretrained": {**PRETRAINED, "backbone": backbone}, "head": {"widths": []}, "training": {"epochs": 1}}
    settings = yaml.safe_load(config_file.read_text())
    settings["models"]["musicnn"] = section
    (tmp_path / "tuned.yaml").write_text(yaml.safe_dump(settings))
    tuned = load_config(tmp_path / "tuned.yaml")
    split = split_for(dataset, tuned.split)
    trained = train_model("musicnn", prepare(dataset, tuned, ["musicnn"]), split)
    network, reference = trained.model.get_layer("pretrained_network").layer, pretrained("musicnn", "msd")
    for layer, trains in (("timbral74_conv", False), ("midend2_conv", False), ("midend3_conv", True)):
        before, after = reference.get_layer(layer).get_weights()[0], network.get_layer(layer).get_weights()[0]
        assert np.allclose(before, after) != trains, layer  # the layers before midend3_conv keep their weights
    trained.save(tmp_path)
    loaded = family("musicnn").load(tmp_path)
    tracks = prepare(dataset, tuned, ["musicnn"]).dataset.tracks(split.test)
    again = family("musicnn").predict_proba(loaded, tracks)
    np.testing.assert_allclose(again, trained.predict_proba(tracks), atol=1e-5)


def write_lists(folder: Path, sides: dict[str, list[str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for side, tracks in sides.items():
        (folder / f"{side}_mine.txt").write_text("".join(f"{track}\n" for track in tracks))
    return folder


def test_a_split_follows_its_lists(fast_dataset, tmp_path):
    ids = fast_dataset.track_ids
    sides = {
        "train": [f"blues/{track}.wav" for track in ids[:60]] + ["jazz.00999.wav"],  # a track the dataset lacks
        "valid": [f"{track}.wav" for track in ids[60:90]],
        "test": [f"{track}.wav" for track in ids[90:120]],
    }
    split = listed_split(ids, fast_dataset.groups, str(write_lists(tmp_path / "lists", sides)))
    assert [len(split.train), len(split.validation), len(split.test)] == [60, 30, 30]
    np.testing.assert_array_equal(split.test, np.arange(90, 120))  # tracks in no list take no part
    twice = {**sides, "test": [*sides["test"], sides["valid"][0]]}
    with pytest.raises(DataError, match=r"test_mine.txt line 31: .* is on the valid list too"):
        listed_split(ids, fast_dataset.groups, str(write_lists(tmp_path / "twice", twice)))


def test_a_duplicate_group_may_not_straddle_two_lists(fast_dataset, tmp_path):
    copies = next(group for group in fast_dataset.duplicate_sets() if len(group) == 2)
    others = [track for track in fast_dataset.track_ids if track not in copies]
    sides = {"train": [copies[0], *others[:50]], "valid": others[50:80], "test": [copies[1], *others[80:110]]}
    with pytest.raises(DataError, match=f"{copies[0]} \\(train\\) and {copies[1]} \\(test\\) are the same recording"):
        listed_split(fast_dataset.track_ids, fast_dataset.groups, str(write_lists(tmp_path / "lists", sides)))


def test_compare_on_lists_records_and_reports_the_split(synthetic_root, fast_dataset, tmp_path, capsys):
    quarter = {group: index % 4 for index, group in enumerate(dict.fromkeys(fast_dataset.groups))}  # a group, one side
    side = [quarter[group] for group in fast_dataset.groups]
    ids = fast_dataset.track_ids
    sides = {"train": ids[np.isin(side, (0, 1))], "valid": ids[np.equal(side, 2)], "test": ids[np.equal(side, 3)]}
    lists = write_lists(tmp_path / "lists", sides)
    out = tmp_path / "compare"
    common = ["--data", str(synthetic_root), "--config", str(FAST_CONFIG), "--split", str(lists)]
    assert main(["compare", *common, "--models", "mlp", "xgboost", "--out", str(out)]) == 0
    assert f"Test macro-F1 (the test list of {lists}), best first:" in " ".join(capsys.readouterr().out.split())
    record = json.loads((out / "mlp" / "run.json").read_text())["split"]
    assert record["kind"] == "lists" and record["lists"] == str(lists) and record["test"] == len(sides["test"])
    named = f"{lists} lists, {len(sides['test'])} test tracks"
    assert (out / "comparison.md").read_text().startswith(f"# Model comparison: {named}\n")
    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert f"Test list of the lists in {lists}" in report and f"comparison, {named}" in report
    capsys.readouterr()
    assert main(["compare", *common, "--folds", "3", "--out", str(tmp_path / "folds")]) == 2
    assert "--folds: split.lists" in capsys.readouterr().err


def test_the_fault_filtered_split_of_gtzan():
    root = required_by_ci("GTZAN_DIR", "the real GTZAN dataset")
    config = load_config()
    with pytest.warns(MissingImageWarning):
        dataset = load_dataset(root, dataclasses.replace(config.data, cache=False))
    split = split_for(dataset, dataclasses.replace(config.split, lists="fault-filtered"))
    assert [len(split.train), len(split.validation), len(split.test)] == [442, 197, 290]  # jazz.00054 has no image
    assert set(np.bincount(dataset.labels[split.test])) <= set(range(26, 33))
    sides = [set(dataset.groups[rows]) for rows in (split.train, split.validation, split.test)]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])


def test_a_study_tunes_the_musicnn_models_head(small_root, config_file, warm_cache, tmp_path):
    search = tmp_path / "search.yaml"
    space = {"pretrained.width": {"type": "categorical", "choices": [16, 32]}, "pretrained.dropout": None}
    search.write_text(yaml.safe_dump({"pruner": {"type": "none"}, "spaces": {"musicnn": space}}))
    arguments = ["tune", "--model", "musicnn", "--trials", "2", "--data", str(small_root), "--config", str(config_file)]
    assert main([*arguments, "--search", str(search), "--out", str(tmp_path / "tuning")]) == 0
    trials = pd.read_csv(tmp_path / "tuning" / "musicnn" / "trials.csv")
    assert len(trials) == 2 and set(trials["params_pretrained.width"]) <= {16, 32}
