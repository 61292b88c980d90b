"""A study's decision: the winner replaces the configured settings only where it beats them by more
than the inner folds' noise; and the statistics behind it."""

import dataclasses

import numpy as np
import optuna
import pytest
import yaml
from sklearn.metrics import f1_score
from test_tuning import small_search_file

from multimodal_genre import tuning
from multimodal_genre.errors import ConfigError
from multimodal_genre.search import DecisionConfig, load_search
from multimodal_genre.statistics import bootstrap_draws, macro_f1, resampled_macro_f1, score_interval
from multimodal_genre.tuning import StudyOptions, tune
from multimodal_genre.tuning.decision import Scored, decide

CORRECTED = DecisionConfig("corrected_t", 0.05)


def folds(trial: int, scores: list[float]) -> Scored:
    return Scored(trial=trial, folds=tuple(scores), test_to_train=0.5)  # 3 inner folds: a third held out


def test_a_gain_far_above_the_folds_noise_replaces_the_configured_settings():
    decision = decide(folds(0, [0.70, 0.72, 0.71, 0.69]), folds(5, [0.78, 0.80, 0.80, 0.77]), CORRECTED)
    assert decision.adopted and decision.p_value < 0.05 and decision.low > 0
    assert decision.difference == pytest.approx(0.0825)
    assert decision.words().startswith("took the winner (trial 5)") and decision.interval_words().startswith("90%")


def test_a_gain_within_the_folds_noise_keeps_the_configured_settings():
    default, winner = folds(0, [0.70, 0.75, 0.68, 0.74]), folds(3, [0.74, 0.73, 0.72, 0.75])
    decision = decide(default, winner, CORRECTED)
    assert not decision.adopted and decision.difference > 0 and decision.low < 0 < decision.high
    assert decision.words().startswith("kept the configured settings: the winner's gain is within the noise")
    assert decide(default, winner, DecisionConfig("always", 0.05)).adopted
    # The standard error of these differences (0.0125) is below their mean (0.0175): the looser rule takes it.
    assert decide(default, winner, DecisionConfig("one_se", 0.05)).adopted


def test_the_configured_settings_as_winner_are_kept():
    same = folds(0, [0.7, 0.8, 0.75])
    decision = decide(same, same, DecisionConfig("always", 0.05))
    assert not decision.adopted and decision.difference == 0 and (decision.low, decision.high) == (0, 0)
    assert decision.words() == "kept the configured settings: no trial beat them on the inner folds"


def test_one_validation_split_is_weighed_by_a_paired_bootstrap_of_its_tracks():
    rng = np.random.default_rng(0)
    labels = tuple(int(label) for label in np.repeat(np.arange(10), 12))
    good = tuple(label if rng.random() < 0.9 else (label + 1) % 10 for label in labels)
    poor = tuple(label if rng.random() < 0.5 else (label + 1) % 10 for label in labels)

    def scored(trial, predicted):
        return Scored(trial, (macro_f1(np.array(labels), np.array(predicted)),), 0.1, labels, predicted)

    decision = decide(scored(0, poor), scored(1, good), CORRECTED)
    assert decision.adopted and decision.p_value < 0.01 and "paired bootstrap over 120" in decision.method
    slightly = (labels[0], *poor[1:])  # one track better: noise
    assert not decide(scored(0, poor), scored(1, slightly), CORRECTED).adopted


def test_the_fast_macro_f1_is_scikit_learns():
    rng = np.random.default_rng(1)
    labels, predicted = rng.integers(0, 10, 200), rng.integers(0, 10, 200)
    predicted[labels == 3] = 3  # a genre predicted perfectly, and one never predicted nor present
    labels[labels == 7], predicted[predicted == 7] = 6, 6
    expected = f1_score(labels, predicted, labels=list(range(10)), average="macro", zero_division=0)
    assert macro_f1(labels, predicted) == pytest.approx(expected)
    draws = bootstrap_draws(len(labels), resamples=5)
    for draw, value in zip(draws, resampled_macro_f1(labels, predicted, draws), strict=True):
        sklearn = f1_score(labels[draw], predicted[draw], labels=list(range(10)), average="macro", zero_division=0)
        assert value == pytest.approx(sklearn)
    low, high = score_interval(labels, predicted)
    assert low < macro_f1(labels, predicted) < high


def test_a_bad_level_names_its_key():
    with pytest.raises(ConfigError, match="'level' must be between 0 and 0.5"):
        DecisionConfig("corrected_t", 0.7)


def test_a_study_takes_a_winner_that_beats_poor_settings_on_every_fold(fast_dataset, fast_config, tmp_path):
    """Configured with a learning rate far too small to learn in its epochs, the MLP loses to every
    trial with a usable one, on each inner fold: the corrected t-test takes the winner."""
    settings = fast_config.models["mlp"]
    training = dataclasses.replace(settings.training, learning_rate=1e-5, epochs=15)
    config = fast_config.with_model("mlp", dataclasses.replace(settings, training=training))
    space = {"training.learning_rate": {"type": "categorical", "choices": [1e-5, 3e-3, 1e-2]}}
    no_pruning = {"type": "none", "startup_trials": 0}
    path = small_search_file(tmp_path / "search.yaml", pruner=no_pruning)
    changes = yaml.safe_load(path.read_text())
    changes["spaces"]["mlp"].update(space, **{"tabular.width": None})
    path.write_text(yaml.safe_dump(changes))
    # Usable rates first, so that some trial learns: the sampler's seed differs from process to process,
    # and its draws alone may all be the configured rate.
    storage = tuning.default_storage(tmp_path)
    study = optuna.create_study(study_name="mlp", storage=storage, direction="maximize")
    for rate in (3e-3, 1e-2):
        study.enqueue_trial({"training.learning_rate": rate})
    options = StudyOptions(trials=4, folds=3)
    result = tune("mlp", fast_dataset, config, load_search(config, path), options, out=tmp_path, storage_url=storage)
    decision = result.decision
    assert decision.winner_trial != decision.default_trial and decision.adopted, decision.words()
    tuned = yaml.safe_load((tmp_path / "mlp" / "tuned.yaml").read_text())
    assert tuned["models"]["mlp"]["training"]["learning_rate"] == pytest.approx(
        result.best_params["training.learning_rate"]
    )
