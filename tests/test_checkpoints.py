"""Models kept as a longer training goes on: taken back only for what they were trained from."""

from __future__ import annotations

import numpy as np
import pytest

from multimodal_genre.checkpoints import kept_or_fit
from multimodal_genre.data import holdout_split
from multimodal_genre.families import family


@pytest.fixture
def fit_counted(fast_dataset, fast_config):
    owner, settings = family("xgboost"), fast_config.models["xgboost"]
    split = holdout_split(fast_dataset.labels, fast_dataset.groups, fast_config.split)
    calls: list[int] = []

    def kept(folder, seed):
        def fit():
            calls.append(seed)
            return owner.fit(settings, fast_dataset, split, seed)

        return kept_or_fit(folder, owner, settings, fast_dataset, split, seed, fit)

    return kept, calls, fast_dataset.images[split.test], fast_dataset.features[split.test]


def test_a_kept_model_is_taken_back_instead_of_trained_again(fit_counted, tmp_path):
    kept, calls, images, features = fit_counted
    first = kept(tmp_path / "member1", seed=0)
    again = kept(tmp_path / "member1", seed=0)
    assert calls == [0]
    np.testing.assert_allclose(again.predict_proba(images, features), first.predict_proba(images, features))
    assert (again.best_epoch, again.seconds) == (first.best_epoch, first.seconds)
    assert again.history.equals(first.history)


def test_a_model_kept_for_another_seed_or_damaged_is_trained_again(fit_counted, tmp_path, caplog):
    kept, calls, _, _ = fit_counted
    kept(tmp_path / "member1", seed=0)
    kept(tmp_path / "member1", seed=1)  # another seed: another model, which replaces it
    assert calls == [0, 1]
    (tmp_path / "member1" / "model.json").write_text("{")
    kept(tmp_path / "member1", seed=1)
    assert calls == [0, 1, 1]
    assert "a kept model that cannot be read" in caplog.text and "training it again" in caplog.text


def test_without_a_folder_nothing_is_kept(fit_counted, tmp_path):
    kept, calls, _, _ = fit_counted
    kept(None, seed=0)
    kept(None, seed=0)
    assert calls == [0, 0] and not any(tmp_path.iterdir())
