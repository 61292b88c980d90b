import dataclasses

import numpy as np
import pytest

from multimodal_genre.data import holdout_split, kfold_splits
from multimodal_genre.errors import DataError


def assert_grouped_partition(split, groups, n):
    sides = [split.train, split.validation, split.test]
    everything = np.concatenate(sides)
    assert len(everything) == len(np.unique(everything)) == n, "sides overlap or miss rows"
    side_groups = [set(groups[side].tolist()) for side in sides]
    assert not (side_groups[0] & side_groups[1]) and not (side_groups[0] & side_groups[2])
    assert not (side_groups[1] & side_groups[2]), "a duplicate group straddles two sides"
    for side in sides:
        assert (np.diff(side) > 0).all(), "indices are not sorted"


def heavily_grouped(seed=0):
    """600 tracks in 10 genres in groups of 1 to 4 consecutive tracks, plus 10 links across genres."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), 60)
    groups = np.repeat(np.arange(600), rng.integers(1, 5, size=600))[:600]
    cross = rng.choice(600, size=20, replace=False)
    groups[cross[:10]] = groups[cross[10:]]
    return labels, groups


def test_holdout_split_is_grouped_stratified_and_sized(synthetic, config):
    split = holdout_split(synthetic.labels, synthetic.groups, config.split)
    assert_grouped_partition(split, synthetic.groups, len(synthetic))
    n = len(synthetic)
    assert abs(len(split.test) / n - 0.2) < 0.05
    assert abs(len(split.validation) / n - 0.1) < 0.05
    for side in (split.train, split.validation, split.test):
        assert set(synthetic.labels[side].tolist()) == set(range(10)), "a genre is missing from a side"


def test_holdout_split_is_seeded(synthetic, config):
    again = holdout_split(synthetic.labels, synthetic.groups, config.split)
    first = holdout_split(synthetic.labels, synthetic.groups, config.split)
    other = holdout_split(synthetic.labels, synthetic.groups, dataclasses.replace(config.split, seed=7))
    np.testing.assert_array_equal(first.test, again.test)
    np.testing.assert_array_equal(first.validation, again.validation)
    assert not np.array_equal(first.test, other.test)


def test_no_validation_side_leaves_train_and_the_same_test(synthetic, config):
    with_validation = holdout_split(synthetic.labels, synthetic.groups, config.split)
    without = holdout_split(
        synthetic.labels, synthetic.groups, dataclasses.replace(config.split, validation_fraction=0)
    )
    assert len(without.validation) == 0
    np.testing.assert_array_equal(without.test, with_validation.test)
    np.testing.assert_array_equal(without.train, np.union1d(with_validation.train, with_validation.validation))


def test_kfold_test_sides_partition_the_dataset(synthetic, config):
    folds = kfold_splits(synthetic.labels, synthetic.groups, config.split)
    assert len(folds) == 5
    for split in folds:
        assert_grouped_partition(split, synthetic.groups, len(synthetic))
    tests = np.concatenate([split.test for split in folds])
    assert sorted(tests.tolist()) == list(range(len(synthetic)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_groups_never_straddle_even_when_many_tracks_repeat(seed, config):
    labels, groups = heavily_grouped(seed)
    settings = dataclasses.replace(config.split, seed=seed)
    assert_grouped_partition(holdout_split(labels, groups, settings), groups, len(labels))
    for split in kfold_splits(labels, groups, settings):
        assert_grouped_partition(split, groups, len(labels))


def test_too_few_tracks_in_a_genre_is_a_clear_error(config):
    labels = np.array([0] * 20 + [1] * 3)
    groups = np.arange(23)
    with pytest.raises(DataError, match="genre 'classical' has 3 distinct tracks; .* into 5 folds needs at least 5"):
        kfold_splits(labels, groups, config.split)
