import dataclasses

import numpy as np
import pandas as pd
import pytest

from multimodal_genre.data import FEATURE_COLUMNS, GENRES, MissingImageWarning, load_dataset
from multimodal_genre.data.duplicates import duplicate_groups
from multimodal_genre.data.images import open_image, preprocess, to_unit_float
from multimodal_genre.data.layout import CSV_COLUMNS, gtzan_genre, image_path, is_audio_name, track_id

from conftest import TRACKS_PER_GENRE

N_TRACKS = TRACKS_PER_GENRE * len(GENRES) - 1  # one jazz row has no image


def test_layout_constants():
    assert len(FEATURE_COLUMNS) == 57
    assert CSV_COLUMNS[:2] == ("filename", "length") and CSV_COLUMNS[-1] == "label"
    assert GENRES == ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")


def test_file_name_maps_to_its_image(tmp_path):
    assert gtzan_genre("blues.00000.wav") == "blues" and track_id("blues.00000.wav") == "blues.00000"
    assert image_path(tmp_path, "blues", "blues.00000.wav") == tmp_path / "images_original" / "blues" / "blues00000.png"
    assert gtzan_genre("blues.0000.wav") is None and gtzan_genre("Blues.00000.wav") is None


def test_any_audio_file_name_maps_to_its_image_by_the_same_rule(tmp_path):
    assert image_path(tmp_path, "rock", "My Song.v2.flac") == tmp_path / "images_original" / "rock" / "My Songv2.png"
    assert track_id("My Song.v2.flac") == "My Song.v2" and gtzan_genre("My Song.v2.flac") is None
    assert is_audio_name("My Song.flac") and not is_audio_name("My Song") and not is_audio_name("a/b.wav")


def test_arrays_line_up_with_the_expected_shapes(synthetic):
    assert len(synthetic) == N_TRACKS
    assert synthetic.features.shape == (N_TRACKS, 57) and synthetic.features.dtype == np.float64
    assert synthetic.images.shape == (N_TRACKS, 64, 99, 1) and synthetic.images.dtype == np.float32
    assert 0.0 <= synthetic.images.min() and synthetic.images.max() <= 1.0
    assert synthetic.labels.dtype == np.int64 and synthetic.groups.dtype == np.int64
    assert synthetic.source_image_size == (432, 288)
    assert synthetic.synthetic is True


def test_labels_follow_the_fixed_genre_order(synthetic):
    counts = np.bincount(synthetic.labels, minlength=10)
    assert counts.tolist() == [TRACKS_PER_GENRE] * 5 + [TRACKS_PER_GENRE - 1] + [TRACKS_PER_GENRE] * 4
    for track, label in zip(synthetic.track_ids, synthetic.labels, strict=True):
        assert track.split(".")[0] == GENRES[label]


def test_row_without_image_is_dropped_with_one_warning_naming_it(synthetic_root, config):
    with pytest.warns(MissingImageWarning) as caught:
        dataset = load_dataset(synthetic_root, config.data)
    assert len(caught) == 1
    assert "jazz.00008.wav" in str(caught[0].message)
    assert dataset.dropped == ("jazz.00008.wav",)
    assert "jazz.00008" not in set(dataset.track_ids)


def test_each_row_holds_its_own_tracks_image_and_features(synthetic, synthetic_root, config):
    row = int(np.flatnonzero(synthetic.track_ids == "pop.00003")[0])
    expected = to_unit_float(
        preprocess(open_image(image_path(synthetic_root, "pop", "pop.00003.wav")), config.data.image)
    )
    np.testing.assert_array_equal(synthetic.images[row], expected)
    csv = pd.read_csv(synthetic_root / "features_30_sec.csv")
    written = csv.loc[csv.filename == "pop.00003.wav", list(FEATURE_COLUMNS)].to_numpy()[0]
    np.testing.assert_array_equal(synthetic.features[row], written)


def test_duplicate_tracks_share_a_group_even_across_genres(synthetic):
    last = f"{TRACKS_PER_GENRE - 1:05d}"
    assert synthetic.duplicate_sets() == [
        [f"disco.{TRACKS_PER_GENRE - 2:05d}", f"disco.{last}"],
        ["metal.00000", f"metal.{last}"],
        ["metal.00001", "rock.00001"],
    ]
    assert len(np.unique(synthetic.groups)) == N_TRACKS - 3


def test_groups_link_chains_of_feature_and_image_matches():
    features = np.array([[1.0, 2.0], [1.0, 2.0], [5.0, 6.0], [7.0, 8.0], [9.0, 0.0]])
    digests = ["a", "b", "b", "c", "d"]  # 0~1 by features, 1~2 by image: all three one group
    assert duplicate_groups(features, digests).tolist() == [0, 0, 0, 1, 2]
    assert duplicate_groups(np.eye(3), ["x", "y", "z"]).tolist() == [0, 1, 2]


def test_grayscale_setting_gives_one_channel(synthetic_root, config):
    gray = dataclasses.replace(config.data, image=dataclasses.replace(config.data.image, color="grayscale", height=32))
    with pytest.warns(MissingImageWarning):
        dataset = load_dataset(synthetic_root, gray)
    assert dataset.images.shape == (N_TRACKS, 32, 49, 1)


def test_fingerprint_is_stable_and_follows_the_content(dataset_copy, config):
    with pytest.warns(MissingImageWarning):
        first = load_dataset(dataset_copy, config.data).fingerprint
        again = load_dataset(dataset_copy, config.data).fingerprint
        path = image_path(dataset_copy, "blues", "blues.00002.wav")
        path.write_bytes(image_path(dataset_copy, "blues", "blues.00003.wav").read_bytes())
        changed = load_dataset(dataset_copy, config.data).fingerprint
    assert first == again != changed
