"""A bag's members checkpointed as a longer training goes on: taken back only for what they were trained from."""

from __future__ import annotations

import numpy as np
import pytest

from multimodal_genre.checkpoints import restored_or_fit
from multimodal_genre.data import holdout_split
from multimodal_genre.families import family
from multimodal_genre.families.base import fit_split


@pytest.fixture
def fit_counted(fast_dataset, fast_config):
    owner, settings = family("xgboost"), fast_config.models["xgboost"]
    split = holdout_split(fast_dataset.labels, fast_dataset.groups, fast_config.split)
    calls: list[int] = []

    def restored(folder, seed):
        def fit():
            calls.append(seed)
            return fit_split(owner, settings, fast_dataset, split, seed)

        return restored_or_fit(folder, owner, settings, fast_dataset, split, seed, fit)

    return restored, calls, fast_dataset.tracks(split.test)


def test_a_checkpoint_is_taken_back_instead_of_trained_again(fit_counted, tmp_path):
    restored, calls, tracks = fit_counted
    first = restored(tmp_path / "member1", seed=0)
    again = restored(tmp_path / "member1", seed=0)
    assert calls == [0]
    np.testing.assert_allclose(again.predict_proba(tracks), first.predict_proba(tracks))
    assert (again.kept, again.seconds, again.seen) == (first.kept, first.seconds, first.seen)
    assert again.history.equals(first.history)


def test_a_checkpoint_for_another_seed_or_damaged_is_trained_again(fit_counted, tmp_path, caplog):
    restored, calls, _ = fit_counted
    restored(tmp_path / "member1", seed=0)
    restored(tmp_path / "member1", seed=1)  # another seed: another model, which replaces it
    assert calls == [0, 1]
    (tmp_path / "member1" / "model.json").write_text("{")
    restored(tmp_path / "member1", seed=1)
    assert calls == [0, 1, 1]
    assert "a checkpoint that cannot be read" in caplog.text and "training it again" in caplog.text


def test_without_a_folder_nothing_is_checkpointed(fit_counted, tmp_path):
    restored, calls, _ = fit_counted
    restored(None, seed=0)
    restored(None, seed=0)
    assert calls == [0, 0] and not any(tmp_path.iterdir())
