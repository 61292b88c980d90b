"""Run folders and comparisons: every file is there and agrees with the test predictions."""

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from multimodal_genre.comparison import run_comparison
from multimodal_genre.config import load_config
from multimodal_genre.data import GENRES
from multimodal_genre.errors import RunError
from multimodal_genre.evaluation import METRICS, score

MODEL_FILES = {
    "run.json",
    "config.yaml",
    "history.csv",
    "training.log",
    "learning_curves.png",
    "predictions.csv",
    "split.csv",
    "metrics.json",
    "classification_report.csv",
    "classification_report.json",
    "classification_report.md",
    "confusion_matrix.csv",
    "confusion_matrix.png",
}
PROBABILITIES = [f"p_{genre}" for genre in GENRES]


def read_predictions(directory):
    table = pd.read_csv(directory / "predictions.csv")
    labels = table["true_genre"].map(GENRES.index).to_numpy()
    return table, labels, table[PROBABILITIES].to_numpy()


def test_a_network_run_folder_keeps_its_line_per_epoch(comparison):
    """The terminal shows them only with --verbose; the run folder always keeps them."""
    lines = (comparison.directory / "mlp" / "training.log").read_text().splitlines()
    epochs = len(pd.read_csv(comparison.directory / "mlp" / "history.csv"))
    assert sum(line.startswith("mlp epoch ") for line in lines) == epochs and lines[0].startswith("mlp epoch 1/")


@pytest.mark.parametrize("name", ["fused", "cnn", "mlp", "xgboost"])
def test_each_model_folder_has_every_file(comparison, name):
    directory = comparison.directory / name
    model_file = "model.json" if name == "xgboost" else "model.keras"
    assert MODEL_FILES | {model_file} <= {path.name for path in directory.iterdir()}
    for picture in ("learning_curves.png", "confusion_matrix.png"):
        assert (directory / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", ["fused", "cnn", "mlp", "xgboost"])
def test_reports_agree_with_the_predictions_csv(comparison, name, fast_dataset):
    directory = comparison.directory / name
    table, labels, probabilities = read_predictions(directory)
    assert list(table.columns[:3]) == ["track", "true_genre", "predicted_genre"]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (table["predicted_genre"] == [GENRES[i] for i in probabilities.argmax(axis=1)]).all()

    metrics = json.loads((directory / "metrics.json").read_text())
    assert list(metrics) == list(METRICS)
    for key, value in score(labels, probabilities).items():
        assert metrics[key] == pytest.approx(value, abs=1e-6), key

    report = pd.read_csv(directory / "classification_report.csv", index_col="genre")
    for genre in GENRES:
        truth, guess = table["true_genre"] == genre, table["predicted_genre"] == genre
        hits = int((truth & guess).sum())
        assert report.loc[genre, "support"] == truth.sum()
        expected_f1 = 2 * hits / (truth.sum() + guess.sum()) if truth.sum() + guess.sum() else 0.0
        assert report.loc[genre, "f1-score"] == pytest.approx(expected_f1)
    assert report.loc["macro avg", "f1-score"] == pytest.approx(metrics["macro_f1"])
    assert json.loads((directory / "classification_report.json").read_text())["accuracy"] == pytest.approx(
        metrics["accuracy"]
    )
    assert "| blues" in (directory / "classification_report.md").read_text()

    counts = pd.read_csv(directory / "confusion_matrix.csv", index_col=0)
    crosstab = pd.crosstab(table["true_genre"], table["predicted_genre"]).reindex(
        index=GENRES, columns=GENRES, fill_value=0
    )
    np.testing.assert_array_equal(counts.to_numpy(), crosstab.to_numpy())


def test_run_record_and_config_describe_the_run(comparison, fast_dataset, fast_config):
    directory = comparison.directory / "fused"
    info = json.loads((directory / "run.json").read_text())
    assert (info["format"], info["kind"], info["model"]) == (2, "model", "fused")
    assert info["dataset"]["fingerprint"] == fast_dataset.fingerprint and info["dataset"]["synthetic"] is True
    table, _, _ = read_predictions(directory)
    assert info["split"]["test"] == len(table)
    assert 1 <= info["training"]["kept"] <= info["training"]["ran"]
    assert {"tensorflow", "keras", "xgboost", "scikit-learn"} <= set(info["versions"])
    assert load_config(directory / "config.yaml") == fast_config


def test_split_record_is_grouped_and_matches_the_test_predictions(comparison, fast_dataset):
    split = pd.read_csv(comparison.directory / "mlp" / "split.csv")
    assert len(split) == len(fast_dataset) and set(split["side"]) == {"train", "validation", "test"}
    assert (split.groupby("group")["side"].nunique() == 1).all()
    table, _, _ = read_predictions(comparison.directory / "mlp")
    assert sorted(split.loc[split["side"] == "test", "track"]) == sorted(table["track"])


def test_comparison_tables_collect_the_model_runs(comparison):
    directory = comparison.directory
    overall = pd.read_csv(directory / "comparison.csv", index_col="model")
    per_genre = pd.read_csv(directory / "per_genre_f1.csv", index_col="genre")
    assert sorted(overall.index) == ["cnn", "fused", "mlp", "xgboost"]
    assert overall["macro_f1"].is_monotonic_decreasing  # best first
    assert list(per_genre.index) == list(GENRES) and list(per_genre.columns) == list(overall.index)
    for name in overall.index:
        metrics = json.loads((directory / name / "metrics.json").read_text())
        assert overall.loc[name, list(METRICS)].to_dict() == pytest.approx(metrics)
        report = pd.read_csv(directory / name / "classification_report.csv", index_col="genre")
        np.testing.assert_allclose(per_genre[name], report.loc[list(GENRES), "f1-score"])
    markdown = (directory / "comparison.md").read_text()
    assert "SYNTHETIC DATA" in markdown and "Fusion (fused)" in markdown
    assert "![Per-genre F1](per_genre_f1.png)" in markdown
    assert (directory / "per_genre_f1.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((directory / "run.json").read_text())["kind"] == "comparison"


@pytest.fixture(scope="module")
def kfold(tmp_path_factory, fast_dataset, fast_config):
    """A 3-fold comparison of the two quick models, trained once for the tests below (which do not change it)."""
    return run_comparison(fast_dataset, fast_config, tmp_path_factory.mktemp("kfold") / "kfold", ["mlp", "xgboost"], 3)


def test_kfold_comparison_reports_mean_and_spread(kfold, fast_dataset):
    result, directory = kfold, kfold.directory
    folds = pd.read_csv(directory / "folds.csv")
    assert len(folds) == 6 and sorted(folds["fold"].unique()) == [1, 2, 3]
    overall = pd.read_csv(directory / "comparison.csv", index_col="model")
    for name in ("mlp", "xgboost"):
        mine = folds[folds["model"] == name]["macro_f1"]
        assert overall.loc[name, "macro_f1_mean"] == pytest.approx(mine.mean())
        assert overall.loc[name, "macro_f1_std"] == pytest.approx(mine.std(ddof=1))
    per_genre = pd.read_csv(directory / "per_genre_f1.csv", index_col="genre")
    assert {"mlp_mean", "mlp_std", "xgboost_mean", "xgboost_std"} == set(per_genre.columns)
    tested = pd.concat([pd.read_csv(directory / f"fold{k}" / "mlp" / "predictions.csv") for k in (1, 2, 3)])
    assert sorted(tested["track"]) == sorted(fast_dataset.track_ids), "test sides must partition the dataset"
    assert "±" in (directory / "comparison.md").read_text()
    assert len(result.scores) == 6


def test_an_interrupted_comparison_goes_on_where_it_stopped(kfold, tmp_path, fast_dataset, fast_config, caplog):
    first, out = kfold, Path(shutil.copytree(kfold.directory, tmp_path / "kfold"))
    for unfinished in (out / "fold3" / "mlp" / "run.json", out / "run.json", out / "folds.csv"):
        unfinished.unlink()  # as if stopped while fold 3's mlp was training
    caplog.set_level(logging.INFO, logger="multimodal_genre")
    again = run_comparison(fast_dataset, fast_config, out, ["mlp", "xgboost"], 3, resume=True)
    loggers = ("multimodal_genre.training", "multimodal_genre.comparison")
    lines = [record.getMessage() for record in caplog.records if record.name in loggers]
    trained = [line for line in lines if "took back the finished run" not in line]
    assert len(lines) - len(trained) == 5 and trained[0].startswith("mlp      fold 3/3")
    kept = ~((first.scores["fold"] == 3) & (first.scores["model"] == "mlp"))
    pd.testing.assert_frame_equal(again.scores[kept], first.scores[kept], check_dtype=False)
    assert (out / "fold3" / "mlp" / "run.json").is_file() and len(pd.read_csv(out / "folds.csv")) == 6
    # A config that changes only a model this comparison does not train (as a new version's defaults
    # may) takes back every finished run.
    elsewhere = fast_config.with_model("musicnn", load_config().models["musicnn"])
    caplog.clear()
    run_comparison(fast_dataset, elsewhere, out, ["mlp", "xgboost"], 3, resume=True)
    assert sum("took back the finished run" in record.getMessage() for record in caplog.records) == 6
    split = dataclasses.replace(fast_config.split, seed=fast_config.split.seed + 1)
    other = dataclasses.replace(fast_config, split=split)
    with pytest.raises(
        RunError, match="fold1/mlp: a finished run that cannot be reused: another config, another split"
    ):
        run_comparison(fast_dataset, other, out, ["mlp"], 3, resume=True)


def test_config_yaml_of_a_comparison_is_loadable(comparison, fast_config):
    assert yaml.safe_load((comparison.directory / "config.yaml").read_text())["models"]["fused"]["head"]
    assert load_config(comparison.directory / "config.yaml") == fast_config
