"""The data and split sections of a config: how a spectrogram becomes an array, where decoded
arrays are cached, and how tracks are split. ``config.py`` assembles them with the models' sections."""

from __future__ import annotations

import dataclasses
from typing import Literal

from multimodal_genre.settings import Problems, Settings


@dataclasses.dataclass(frozen=True)
class CropBox(Settings):
    """The plot area inside the spectrogram image, as inclusive pixel ranges."""

    rows: tuple[int, int]
    cols: tuple[int, int]

    def problems(self) -> Problems:
        for name, (first, last) in (("rows", self.rows), ("cols", self.cols)):
            if not 0 <= first <= last:
                yield name, f"must be [first, last] with 0 <= first <= last, got [{first}, {last}]"

    @property
    def height(self) -> int:
        return self.rows[1] - self.rows[0] + 1

    @property
    def width(self) -> int:
        return self.cols[1] - self.cols[0] + 1

    @property
    def pil_box(self) -> tuple[int, int, int, int]:
        """(left, upper, right, lower) with exclusive right and lower edges, as Pillow wants it."""
        return self.cols[0], self.rows[0], self.cols[1] + 1, self.rows[1] + 1


@dataclasses.dataclass(frozen=True)
class ImageConfig(Settings):
    """How a spectrogram PNG becomes a model input array."""

    crop: CropBox | None
    height: int | None
    width: int | None
    color: Literal["rgb", "grayscale"]

    def problems(self) -> Problems:
        if self.height is None and self.width is None:
            yield "height", "and width cannot both be null"
        for name in ("height", "width"):
            value = getattr(self, name)
            if value is not None and not 8 <= value <= 4096:
                yield name, f"must be between 8 and 4096 pixels, got {value}"

    @property
    def channels(self) -> int:
        return 3 if self.color == "rgb" else 1


@dataclasses.dataclass(frozen=True)
class DataConfig(Settings):
    image: ImageConfig
    cache: bool
    cache_dir: str | None


@dataclasses.dataclass(frozen=True)
class SplitConfig(Settings):
    seed: int
    test_fraction: float
    validation_fraction: float
    folds: int
    # The sides given as lists of tracks instead (``data/lists.py``): fault-filtered (the artist-filtered
    # GTZAN split the literature reports on) or a folder of train*, valid* and test* lists. null: random.
    lists: str | None = None

    def problems(self) -> Problems:
        if not 0.0 < self.test_fraction <= 0.5:
            yield "test_fraction", f"must be in (0, 0.5], got {self.test_fraction}"
        if not 0.0 <= self.validation_fraction <= 0.5:
            yield "validation_fraction", f"must be in [0, 0.5] (0: no validation side), got {self.validation_fraction}"
        if self.test_fraction + self.validation_fraction > 0.6:
            yield "validation_fraction", "plus test_fraction must leave at least 40% for training"
        if self.folds < 2:
            yield "folds", f"must be at least 2, got {self.folds}"
        if self.lists == "":
            yield "lists", "must be fault-filtered, a folder of lists or null, got an empty string"
