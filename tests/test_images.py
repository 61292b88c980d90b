import dataclasses

import numpy as np
import pytest
from PIL import Image

from multimodal_genre.data.images import output_shape, preprocess, read_images, to_unit_float
from multimodal_genre.data.layout import IMAGE_SIZE, PLOT_COLS, PLOT_ROWS
from multimodal_genre.data.settings import CropBox
from multimodal_genre.errors import DataError


def kaggle_like_image() -> tuple[Image.Image, np.ndarray]:
    """A white 432x288 RGBA canvas whose plot area holds a known pattern; returns (image, plot RGB)."""
    rng = np.random.default_rng(0)
    canvas = np.full((IMAGE_SIZE[1], IMAGE_SIZE[0], 4), 255, dtype=np.uint8)
    plot = rng.integers(0, 200, size=(PLOT_ROWS[1] - PLOT_ROWS[0] + 1, PLOT_COLS[1] - PLOT_COLS[0] + 1, 3))
    canvas[PLOT_ROWS[0] : PLOT_ROWS[1] + 1, PLOT_COLS[0] : PLOT_COLS[1] + 1, :3] = plot
    return Image.fromarray(canvas, mode="RGBA"), plot.astype(np.uint8)


def test_default_size_keeps_the_plot_aspect_ratio(config):
    # The plot area is 336x218; 64 rows keep the ratio with round(64 * 336 / 218) = 99 columns.
    assert output_shape(config.data.image, IMAGE_SIZE) == (64, 99, 1)


def test_output_shape_variants(config):
    image = dataclasses.replace(config.data.image, color="rgb")
    assert output_shape(dataclasses.replace(image, height=None, width=100), IMAGE_SIZE) == (65, 100, 3)
    assert output_shape(dataclasses.replace(image, height=64, width=64), IMAGE_SIZE) == (64, 64, 3)
    assert output_shape(dataclasses.replace(image, crop=None, height=144), IMAGE_SIZE) == (144, 216, 3)
    assert output_shape(dataclasses.replace(image, color="rgb", height=128), IMAGE_SIZE) == (128, 197, 3)


def test_crop_keeps_exactly_the_plot_area(config):
    image, plot = kaggle_like_image()
    full_size = dataclasses.replace(config.data.image, color="rgb", height=plot.shape[0], width=plot.shape[1])
    np.testing.assert_array_equal(preprocess(image, full_size), plot)


def test_resized_output_has_no_border_and_the_configured_shape(config):
    image, plot = kaggle_like_image()
    array = preprocess(image, dataclasses.replace(config.data.image, color="rgb", height=128))
    assert array.shape == (128, 197, 3) and array.dtype == np.uint8
    # The pattern never reaches 255, so any white pixel would be border leaking in.
    assert array.max() < 255
    assert abs(float(array.mean()) - float(plot.mean())) < 2.0


def test_uncropped_keeps_the_border(config):
    image, _ = kaggle_like_image()
    array = preprocess(image, dataclasses.replace(config.data.image, crop=None, height=288, width=432))
    assert (array[: PLOT_ROWS[0]] == 255).all() and (array[:, : PLOT_COLS[0]] == 255).all()


def test_grayscale_has_one_channel(config):
    image, _ = kaggle_like_image()
    array = preprocess(image, dataclasses.replace(config.data.image, color="grayscale", height=128))
    assert array.shape == (128, 197, 1)


def test_crop_box_larger_than_the_image_is_an_error_naming_it(config):
    small = Image.new("RGBA", (100, 100), "white")
    with pytest.raises(DataError, match=r"tiny\.png: the crop box .* does not fit a 100x100 image"):
        preprocess(small, config.data.image, "tiny.png")


def test_images_of_a_different_size_are_an_error_naming_the_file(config, tmp_path):
    image, _ = kaggle_like_image()
    image.save(tmp_path / "a.png")
    image.resize((500, 300)).save(tmp_path / "b.png")
    with pytest.raises(DataError, match=r"b\.png: image is 500x300, the others are 432x288"):
        read_images([tmp_path / "a.png", tmp_path / "b.png"], config.data.image)


def test_read_images_stacks_in_order(config, tmp_path):
    first, _ = kaggle_like_image()
    second = Image.fromarray(np.asarray(first)[::-1].copy(), mode="RGBA")
    first.save(tmp_path / "a.png")
    second.save(tmp_path / "b.png")
    config_full = dataclasses.replace(
        config.data.image, crop=CropBox(rows=(0, 287), cols=(0, 431)), height=288, color="rgb"
    )
    stacked = read_images([tmp_path / "a.png", tmp_path / "b.png"], config_full)
    assert stacked.shape == (2, 288, 432, 3)
    np.testing.assert_array_equal(stacked[1], np.asarray(second)[..., :3])


def test_unit_float_scaling():
    pixels = np.array([0, 51, 255], dtype=np.uint8)
    scaled = to_unit_float(pixels)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled, [0.0, 0.2, 1.0])
