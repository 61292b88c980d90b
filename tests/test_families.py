"""Model families: the registry, a family registered from outside the package (scikit-learn's
logistic regression) that goes through compare, predict and report unchanged, and the conformance
checks every family must pass, as scikit-learn's ``check_estimator`` does for estimators."""

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
from sklearn.metrics import log_loss

from multimodal_genre.cli import main
from multimodal_genre.config import Config, load_config
from multimodal_genre.data import GENRES, GenreDataset, Split, holdout_split
from multimodal_genre.errors import ConfigError
from multimodal_genre.families import FAMILIES, BaggingConfig, Family, TrainedModel, family
from multimodal_genre.families.bag import fit_bag, load_saved
from multimodal_genre.families.base import Fitted, fit_split
from multimodal_genre.member_training import members_fitter
from multimodal_genre.musicnn.embeddings import dataset_embedding
from multimodal_genre.seen import SeenRowsError, unseen_probabilities
from multimodal_genre.settings import Settings, replaced

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

    def fit(self, settings, train, validation, seed, callbacks=()):
        started = time.perf_counter()
        rows = train.tracks.features
        mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-9
        fitted = LogisticRegression(C=settings.c, max_iter=settings.max_iter, random_state=seed)
        fitted.fit((rows - mean) / scale, train.labels)
        model = {"mean": mean, "scale": scale, "coef": fitted.coef_, "intercept": fitted.intercept_}
        iterations = int(fitted.n_iter_[0])  # scikit-learn gives the loss of the last one only
        loss = log_loss(train.labels, self.predict_proba(model, train.tracks), labels=list(range(10)))
        history = pd.DataFrame({"iteration": np.arange(1, iterations + 1), "loss": np.nan})
        history.loc[iterations - 1, "loss"] = loss
        return Fitted(model, history, iterations, time.perf_counter() - started)

    def predict_proba(self, model, tracks):
        scaled = (tracks.features - model["mean"]) / model["scale"]
        return softmax(scaled @ model["coef"].T + model["intercept"], axis=1)

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
    args = ["--data", str(synthetic_root), "--tracks", *saved["track"][:3], "--format", "csv"]
    assert main(["predict", str(out / "logreg"), *args]) == 0
    again = pd.read_csv(io.StringIO(capsys.readouterr().out))
    columns = [f"p_{genre}" for genre in GENRES]
    np.testing.assert_allclose(again[columns].to_numpy(), saved[columns][:3].to_numpy(), atol=1e-4)

    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "report.html").read_text()
    assert f'<tr><th>logreg</th><td>compare</td><td class="number">{len(saved)}</td>' in page
    assert f"{scores.loc['logreg', 'macro_f1']:.3f}" in page


def test_a_config_section_must_belong_to_a_registered_model(tmp_path):
    path = tmp_path / "knn.yaml"
    path.write_text("models:\n  knn: {neighbours: 5}\n")
    with pytest.raises(ConfigError, match=r"knn.yaml: unknown key 'models.knn' \(expected one of: fused, cnn, mlp"):
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
    with pytest.raises(
        ConfigError, match="no model named 'lda' \\(known: fused, cnn, mlp, musicnn, stack, svm, xgboost\\)"
    ):
        family("lda")


# The conformance checks. Every registered family that trains (a stack is built from runs, see
# test_bagging.py), and the family registered from outside above, with short trainings.
CONFORMING = [name for name, owner in FAMILIES.items() if not owner.composite] + ["logreg"]


@dataclasses.dataclass(frozen=True)
class Conforming:
    """A family, its settings (short trainings), the dataset with the views they read, the hold-out
    split and a model trained on it."""

    owner: Family
    settings: Settings
    dataset: GenreDataset
    split: Split
    trained: TrainedModel


@pytest.fixture(scope="module", params=CONFORMING)
def conforming(request, fast_dataset, fast_config):
    owner = LogisticFamily() if request.param == "logreg" else family(request.param)
    settings = LogisticSettings() if request.param == "logreg" else quick_settings(request.param, fast_config)
    if owner.length_setting == "training.epochs":
        settings = replaced(settings, owner.length_setting, 8)
    views = {view.key: dataset_embedding(fast_dataset, view, fast_config.data) for view in owner.embeddings(settings)}
    dataset = fast_dataset.with_embeddings(views)
    split = holdout_split(dataset.labels, dataset.groups, fast_config.split)
    return Conforming(owner, settings, dataset, split, fit_split(owner, settings, dataset, split, seed=3))


def quick_settings(name: str, fast_config: Config) -> Settings:
    """The quick settings of ``name``; for a model they leave out (the pre-trained one), its default
    settings reading one patch a clip, of the picture (a run resolves ``source: auto`` so)."""
    if name in fast_config.models:
        return fast_config.models[name]
    return replaced(replaced(load_config().models[name], "pretrained.patches", 1), "pretrained.source", "picture")


def test_a_family_predicts_one_probability_row_per_track(conforming):
    owner, split, trained, dataset = conforming.owner, conforming.split, conforming.trained, conforming.dataset
    rows = split.test
    probabilities = trained.predict_proba(dataset.tracks(rows))
    assert probabilities.shape == (len(rows), 10) and np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert trained.family is owner and trained.name == owner.name and trained.unit == trained.history.columns[0]
    assert 1 <= trained.kept <= len(trained.history)
    # The synthetic features carry each genre's pair, the images which of the two: above chance (0.1).
    assert np.mean(probabilities.argmax(axis=1) == dataset.labels[rows]) > 0.2


def test_a_family_saves_and_loads_the_same_model(conforming, tmp_path):
    owner, split, trained, dataset = conforming.owner, conforming.split, conforming.trained, conforming.dataset
    trained.save(tmp_path)
    assert {path.name for path in tmp_path.iterdir()} == set(owner.files)
    loaded = owner.load(tmp_path)
    rows = split.test
    np.testing.assert_allclose(
        owner.predict_proba(loaded, dataset.tracks(rows)),
        trained.predict_proba(dataset.tracks(rows)),
        atol=1e-5,
    )


def test_a_family_is_reproducible_from_its_seed(conforming):
    owner, settings, split, trained = conforming.owner, conforming.settings, conforming.split, conforming.trained
    dataset = conforming.dataset
    again = fit_split(owner, settings, dataset, split, seed=3)
    rows = split.test
    np.testing.assert_allclose(
        again.predict_proba(dataset.tracks(rows)),
        trained.predict_proba(dataset.tracks(rows)),
        atol=1e-5,
    )


def test_a_family_never_reads_the_genres_of_its_test_rows(conforming):
    """The same fit with the test rows' genres shuffled gives the same predictions on every row: a
    family that fitted on test rows, whatever it declares it saw, fails here."""
    owner, settings, split, dataset = conforming.owner, conforming.settings, conforming.split, conforming.dataset
    labels = dataset.labels.copy()
    labels[split.test] = np.random.default_rng(0).permutation(labels[split.test])
    assert (labels[split.test] != dataset.labels[split.test]).mean() > 0.5
    shuffled = dataclasses.replace(dataset, labels=labels)
    again = fit_split(owner, settings, shuffled, split, seed=3)
    everything = dataset.tracks()
    np.testing.assert_allclose(again.predict_proba(everything), conforming.trained.predict_proba(everything), atol=1e-5)


def test_a_family_says_which_tracks_it_saw(conforming):
    split, trained, dataset = conforming.split, conforming.trained, conforming.dataset
    assert trained.seen.trained == set(dataset.track_ids[split.train])
    assert trained.seen.watched <= set(dataset.track_ids[split.validation])  # a family may ignore them
    assert not (trained.seen.trained | trained.seen.watched) & set(dataset.track_ids[split.test])


def test_the_scoring_door_refuses_the_tracks_a_family_saw(conforming):
    split, trained, dataset = conforming.split, conforming.trained, conforming.dataset
    with pytest.raises(SeenRowsError, match=f"{trained.name} trained on {len(split.train)} of the"):
        unseen_probabilities(trained, dataset, split.train)
    if trained.seen.watched:
        with pytest.raises(SeenRowsError, match="watched for early stopping"):
            unseen_probabilities(trained, dataset, split.validation)
        assert len(unseen_probabilities(trained, dataset, split.validation, validating=True))
    assert len(unseen_probabilities(trained, dataset, split.test)) == len(split.test)


def test_a_family_bags(conforming, tmp_path):
    owner, settings, split, dataset = conforming.owner, conforming.settings, conforming.split, conforming.dataset
    bag = fit_bag(owner, BaggingConfig(2, "folds"), [settings] * 2, dataset, split, 3, members_fitter())
    pool = np.union1d(split.train, split.validation)
    np.testing.assert_array_equal(bag.out_of_fold.rows, pool)
    assert bag.seen.trained | bag.seen.watched <= set(dataset.track_ids[pool])  # no test track
    oof = bag.out_of_fold
    for index, member in enumerate(bag.members):  # each predicts only rows it neither fitted on nor stopped on
        predicted = set(dataset.track_ids[oof.rows[oof.predicted_by == index]])
        assert predicted and not predicted & (member.seen.trained | member.seen.watched)
    rows = split.test
    members = [member.predict_proba(dataset.tracks(rows)) for member in bag.members]
    probabilities = bag.predict_proba(dataset.tracks(rows))
    np.testing.assert_allclose(probabilities, np.mean(members, axis=0), atol=1e-6)
    bag.save(tmp_path)
    loaded_family, loaded = load_saved(owner, tmp_path)
    np.testing.assert_allclose(
        loaded_family.predict_proba(loaded, dataset.tracks(rows)),
        probabilities,
        atol=1e-5,
    )
    with pytest.raises(SeenRowsError, match=f"{owner.name} trained on"):
        unseen_probabilities(bag, dataset, split.validation, validating=True)
