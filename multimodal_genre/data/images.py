"""Turning spectrogram PNGs into model input arrays: crop the plot area, convert, resize.

Arrays stay uint8 until the last step so that the on-disk cache is a quarter of the float size.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from multimodal_genre.data.settings import ImageConfig
from multimodal_genre.errors import DataError


def output_shape(config: ImageConfig, source_size: tuple[int, int]) -> tuple[int, int, int]:
    """(height, width, channels) of the arrays made from images of ``source_size`` (width, height)."""
    if config.crop is not None:
        height, width = config.crop.height, config.crop.width
    else:
        width, height = source_size
    if config.height is not None and config.width is not None:
        return config.height, config.width, config.channels
    if config.height is not None:
        return config.height, max(1, round(config.height * width / height)), config.channels
    return max(1, round(config.width * height / width)), config.width, config.channels


def preprocess(image: Image.Image, config: ImageConfig, name: str = "image") -> np.ndarray:
    """Crop, convert and resize one decoded image to a uint8 array of ``output_shape``.

    ``name`` (usually the file path) is what an error message calls the image.
    """
    if config.crop is not None:
        if config.crop.rows[1] >= image.height or config.crop.cols[1] >= image.width:
            raise DataError(
                f"{name}: the crop box (rows {config.crop.rows[0]}-{config.crop.rows[1]}, "
                f"cols {config.crop.cols[0]}-{config.crop.cols[1]}) does not fit a {image.width}x{image.height} image"
            )
        image = image.crop(config.crop.pil_box)
    image = image.convert("RGB" if config.color == "rgb" else "L")
    height, width, channels = output_shape(config, image.size)
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8).reshape(height, width, channels)


def open_image(path: Path) -> Image.Image:
    """Decode a PNG fully, so a corrupt or truncated file fails here, naming the file."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except FileNotFoundError:
        raise DataError(f"{path}: image not found") from None
    except UnidentifiedImageError:
        raise DataError(f"{path}: corrupt or truncated image (not a readable PNG)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(f"{path}: corrupt or truncated image ({error})") from None


def read_images(paths: Sequence[Path], config: ImageConfig) -> np.ndarray:
    """Decode and preprocess ``paths`` into one uint8 array (n, height, width, channels).

    All images must have the size of the first, or one crop box could not fit them all.
    Decoding runs on a thread pool; Pillow releases the GIL while it inflates a PNG.
    """
    expected = open_image(paths[0]).size

    def read(path: Path) -> np.ndarray:
        image = open_image(path)
        if image.size != expected:
            raise DataError(
                f"{path}: image is {image.width}x{image.height}, the others are {expected[0]}x{expected[1]}"
            )
        return preprocess(image, config, str(path))

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return np.stack(list(pool.map(read, paths)))


def to_unit_float(images: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [0, 1], the scale every model branch expects."""
    return np.divide(images, 255.0, dtype=np.float32)
