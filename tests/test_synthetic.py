import dataclasses

import numpy as np
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from multimodal_genre.data import MissingImageWarning, load_dataset, write_synthetic_dataset
from multimodal_genre.data.dataset import SYNTHETIC_MARKER
from multimodal_genre.data.layout import CSV_COLUMNS, FEATURES_CSV, IMAGES_DIR, PLOT_COLS, PLOT_ROWS, image_path
from multimodal_genre.errors import DataError

from conftest import TRACKS_PER_GENRE


def test_csv_has_the_kaggle_columns_and_crlf_line_endings(synthetic_root):
    raw = (synthetic_root / FEATURES_CSV).read_bytes()
    lines = raw.split(b"\r\n")
    assert lines[0].decode().split(",") == list(CSV_COLUMNS)
    assert len([line for line in lines if line]) == 1 + 10 * TRACKS_PER_GENRE
    assert raw.count(b"\n") == raw.count(b"\r\n"), "a bare LF line ending"


def test_images_are_432x288_rgba_with_a_blank_border(synthetic_root):
    with Image.open(image_path(synthetic_root, "reggae", "reggae.00003.wav")) as image:
        assert (image.mode, image.size) == ("RGBA", (432, 288))
        pixels = np.asarray(image)
    inside = np.zeros(pixels.shape[:2], dtype=bool)
    inside[PLOT_ROWS[0] : PLOT_ROWS[1] + 1, PLOT_COLS[0] : PLOT_COLS[1] + 1] = True
    assert (pixels[~inside] == 255).all()
    plot = pixels[inside]
    assert (plot[:, 3] == 255).all() and plot[:, :3].mean() < 200
    # The first and last rows and columns of the plot box are drawn, not blank.
    for edge in (
        pixels[PLOT_ROWS[0], PLOT_COLS[0] : PLOT_COLS[1] + 1],
        pixels[PLOT_ROWS[1], PLOT_COLS[0] : PLOT_COLS[1] + 1],
    ):
        assert not (edge[:, :3] == 255).all()


def test_quirks_one_missing_image_and_byte_identical_duplicates(synthetic_root):
    pngs = sorted((synthetic_root / IMAGES_DIR).rglob("*.png"))
    assert len(pngs) == 10 * TRACKS_PER_GENRE - 1
    assert not image_path(synthetic_root, "jazz", f"jazz.{TRACKS_PER_GENRE // 2:05d}.wav").exists()
    metal = image_path(synthetic_root, "metal", "metal.00001.wav").read_bytes()
    assert image_path(synthetic_root, "rock", "rock.00001.wav").read_bytes() == metal
    assert (synthetic_root / SYNTHETIC_MARKER).is_file()


def test_generation_is_seeded(tmp_path):
    one = write_synthetic_dataset(tmp_path / "a", tracks_per_genre=4, seed=3)
    two = write_synthetic_dataset(tmp_path / "b", tracks_per_genre=4, seed=3)
    three = write_synthetic_dataset(tmp_path / "c", tracks_per_genre=4, seed=4)
    assert (one / FEATURES_CSV).read_bytes() == (two / FEATURES_CSV).read_bytes()
    assert (one / FEATURES_CSV).read_bytes() != (three / FEATURES_CSV).read_bytes()
    assert image_path(one, "pop", "pop.00002.wav").read_bytes() == image_path(two, "pop", "pop.00002.wav").read_bytes()


def test_never_overwrites_a_folder_that_is_not_synthetic(tmp_path):
    precious = tmp_path / "real"
    precious.mkdir()
    (precious / FEATURES_CSV).write_text("my data")
    with pytest.raises(DataError, match="is not a synthetic dataset; refusing to overwrite"):
        write_synthetic_dataset(precious, tracks_per_genre=4)
    assert (precious / FEATURES_CSV).read_text() == "my data"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["real"]


def test_rewrites_a_synthetic_folder_in_place(tmp_path):
    root = write_synthetic_dataset(tmp_path / "s", tracks_per_genre=6)
    write_synthetic_dataset(root, tracks_per_genre=4)
    assert len(list((root / IMAGES_DIR).rglob("*.png"))) == 10 * 4 - 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["s"]


def test_too_few_tracks_per_genre_is_refused(tmp_path):
    with pytest.raises(DataError, match="tracks_per_genre must be at least 4"):
        write_synthetic_dataset(tmp_path / "s", tracks_per_genre=2)


@pytest.fixture(scope="module")
def small_views(synthetic_root, config):
    """Features in log scale and 16-pixel-high grayscale images: enough for a linear model to find the signal."""
    image = dataclasses.replace(config.data.image, height=16, color="grayscale")
    with pytest.warns(MissingImageWarning):
        dataset = load_dataset(synthetic_root, dataclasses.replace(config.data, image=image, cache=False))
    return np.log(dataset.features), dataset.images.reshape(len(dataset), -1), dataset.labels, dataset.groups


def grouped_f1(x, y, groups):
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.1))
    folds = StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=0)
    return cross_val_score(model, x, y, groups=groups, cv=folds, scoring="f1_macro").mean()


def test_each_view_carries_its_documented_half_of_the_signal(small_views):
    features, images, labels, groups = small_views
    assert grouped_f1(features, labels // 2, groups) > 0.9, "features should tell the genre family"
    assert grouped_f1(images, labels % 2, groups) > 0.9, "images should tell the member within a family"


def test_both_views_are_learnable_and_fusing_them_pays(small_views):
    features, images, labels, groups = small_views
    chance = 0.1
    from_features = grouped_f1(features, labels, groups)
    from_images = grouped_f1(images, labels, groups)
    fused = grouped_f1(np.hstack([features, images]), labels, groups)
    assert from_features > 3 * chance and from_images > 3 * chance
    assert fused > max(from_features, from_images) + 0.15
