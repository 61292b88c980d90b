"""Model families: the registry, and a family registered from outside the package (scikit-learn's
logistic regression) that goes through compare, predict and report unchanged."""

from __future__ import annotations

import dataclasses
import io
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression

from multimodal_genre.cli import main
from multimodal_genre.config import load_config
from multimodal_genre.data import GENRES
from multimodal_genre.errors import ConfigError
from multimodal_genre.families import FAMILIES, Family, TrainedModel, family
from multimodal_genre.settings import Settings

from conftest import FAST_CONFIG


@dataclasses.dataclass(frozen=True)
class LogisticSettings(Settings):
    c: float = 1.0
    max_iter: int = 1000


class LogisticFamily(Family):
    """Logistic regression on the standardised feature row, kept as plain arrays in JSON."""

    name = "logreg"
    settings = LogisticSettings
    views = ("features",)
    unit = "iteration"
    length_setting = "max_iter"
    files = ("model.json",)

    def fit(self, settings, dataset, split, seed, callbacks=()):
        started = time.perf_counter()
        rows = dataset.features[split.train]
        mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-9
        fitted = LogisticRegression(C=settings.c, max_iter=settings.max_iter, random_state=seed)
        fitted.fit((rows - mean) / scale, dataset.labels[split.train])
        model = {"mean": mean, "scale": scale, "coef": fitted.coef_, "intercept": fitted.intercept_}
        history = pd.DataFrame({"iteration": [int(fitted.n_iter_[0])], "loss": [0.0]})
        return TrainedModel(self, model, history, int(fitted.n_iter_[0]), time.perf_counter() - started)

    def predict_proba(self, model, images, features):
        return softmax((features - model["mean"]) / model["scale"] @ model["coef"].T + model["intercept"], axis=1)

    def save(self, model, directory):
        (directory / "model.json").write_text(json.dumps({key: value.tolist() for key, value in model.items()}))

    def load(self, directory):
        return {key: np.array(value) for key, value in json.loads((directory / "model.json").read_text()).items()}


@pytest.fixture
def logreg(monkeypatch, tmp_path) -> Path:
    """The toy family registered for one test, and a config file that gives it a section."""
    monkeypatch.setitem(FAMILIES, "logreg", LogisticFamily())
    settings = yaml.safe_load(FAST_CONFIG.read_text())
    settings["models"]["logreg"] = {"c": 0.5}
    path = tmp_path / "with-logreg.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def test_a_registered_family_runs_through_compare_predict_and_report(logreg, synthetic_root, tmp_path, capsys):
    out = tmp_path / "compare"
    options = ["--data", str(synthetic_root), "--config", str(logreg)]
    assert main(["compare", "--models", "logreg", "mlp", *options, "--out", str(out)]) == 0
    scores = pd.read_csv(out / "comparison.csv", index_col="model")
    assert list(scores.index) == ["logreg", "mlp"]
    # The features carry the genre's family (a pair of genres): well above the 0.1 of guessing.
    assert scores.loc["logreg", "accuracy"] > 0.3
    assert (out / "logreg" / "model.json").is_file() and not (out / "logreg" / "model.keras").exists()

    saved = pd.read_csv(out / "logreg" / "predictions.csv")
    capsys.readouterr()
    assert main(["predict", str(out / "logreg"), "--data", str(synthetic_root), "--tracks", *saved["track"][:3]]) == 0
    again = pd.read_csv(io.StringIO(capsys.readouterr().out))
    columns = [f"p_{genre}" for genre in GENRES]
    np.testing.assert_allclose(again[columns].to_numpy(), saved[columns][:3].to_numpy(), atol=1e-4)

    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "report.html").read_text()
    assert f'<tr><th>logreg</th><td>compare</td><td class="number">{len(saved)}</td>' in page
    assert f"{scores.loc['logreg', 'macro_f1']:.3f}" in page


def test_a_config_section_must_belong_to_a_registered_model(tmp_path):
    path = tmp_path / "svm.yaml"
    path.write_text("models:\n  svm: {c: 1.0}\n")
    with pytest.raises(ConfigError, match=r"svm.yaml: unknown key 'models.svm' \(expected one of: fused, cnn, mlp"):
        load_config(path)


def test_a_registered_family_validates_its_section(logreg):
    bad = logreg.parent / "bad.yaml"
    bad.write_text("models:\n  logreg: {c: 1.0, max_iter: ten}\n")
    with pytest.raises(ConfigError, match="'models.logreg.max_iter' must be an integer, got 'ten'"):
        load_config(bad)
    assert load_config(logreg).models["logreg"] == LogisticSettings(c=0.5)


def test_each_network_must_have_the_branches_of_its_views(config):
    with pytest.raises(ConfigError, match="'models.cnn' must have the image branch and no other"):
        config.with_model("cnn", config.models["fused"])
    assert family("fused").views == ("image", "features") and family("xgboost").unit == "round"


def test_an_unknown_model_is_named_with_the_known_ones():
    with pytest.raises(ConfigError, match="no model named 'svm' \\(known: fused, cnn, mlp, xgboost, stack\\)"):
        family("svm")
