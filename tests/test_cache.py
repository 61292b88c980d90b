import dataclasses

import numpy as np
import pytest
from PIL import Image

from multimodal_genre.data import MissingImageWarning, load_dataset
from multimodal_genre.data import dataset as dataset_module
from multimodal_genre.data.layout import image_path

pytestmark = pytest.mark.filterwarnings("ignore::multimodal_genre.data.MissingImageWarning")


def no_decoding(*args, **kwargs):
    raise AssertionError("images were decoded although the cache should have served them")


def test_second_load_is_served_from_the_cache(synthetic_root, config, isolated_cache, monkeypatch):
    first = load_dataset(synthetic_root, config.data)
    assert first.image_cache == "miss"
    assert len(list(isolated_cache.glob("images-*.npy"))) == 1
    monkeypatch.setattr(dataset_module, "read_images", no_decoding)
    second = load_dataset(synthetic_root, config.data)
    assert second.image_cache == "hit"
    np.testing.assert_array_equal(first.images, second.images)


def test_a_changed_image_is_never_served_stale(dataset_copy, config):
    before = load_dataset(dataset_copy, config.data)
    path = image_path(dataset_copy, "blues", "blues.00001.wav")
    with Image.open(path) as image:
        Image.fromarray(255 - np.asarray(image.convert("RGB")), mode="RGB").convert("RGBA").save(path)
    after = load_dataset(dataset_copy, config.data)
    assert after.image_cache == "miss"
    row = int(np.flatnonzero(after.track_ids == "blues.00001")[0])
    assert not np.allclose(before.images[row], after.images[row])
    others = np.arange(len(after)) != row
    np.testing.assert_array_equal(before.images[others], after.images[others])


def test_changed_settings_miss_the_cache(synthetic_root, config):
    load_dataset(synthetic_root, config.data)
    smaller = dataclasses.replace(config.data, image=dataclasses.replace(config.data.image, height=40))
    dataset = load_dataset(synthetic_root, smaller)
    assert dataset.image_cache == "miss" and dataset.images.shape[1:] == (40, 62, 1)


def test_cache_can_be_switched_off(synthetic_root, config, isolated_cache):
    dataset = load_dataset(synthetic_root, dataclasses.replace(config.data, cache=False))
    assert dataset.image_cache == "off"
    assert not isolated_cache.exists()


def test_explicit_cache_dir_wins_over_the_environment(synthetic_root, config, tmp_path, isolated_cache):
    load_dataset(synthetic_root, dataclasses.replace(config.data, cache_dir=str(tmp_path / "mine")))
    assert len(list((tmp_path / "mine").glob("images-*.npy"))) == 1
    assert not isolated_cache.exists()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda entry: entry.write_bytes(b"not an array"), "does not match"),
        (lambda entry: entry.write_bytes(entry.read_bytes()[:-100]), "does not match"),  # truncated
        (lambda entry: entry.write_bytes(_flip_one_bit(entry.read_bytes())), "does not match"),
        (lambda entry: entry.with_suffix(".sha256").unlink(), "writer stopped before finishing"),
    ],
    ids=["garbage", "truncated", "bit-flipped", "no-checksum"],
)
def test_a_damaged_cache_entry_is_detected_rebuilt_and_reported_once(
    damage, reason, synthetic_root, config, isolated_cache
):
    good = load_dataset(synthetic_root, config.data)
    (entry,) = isolated_cache.glob("images-*.npy")
    damage(entry)
    with pytest.warns(UserWarning, match=f"damaged cache entry .*{reason}.*rebuilding it") as caught:
        rebuilt = load_dataset(synthetic_root, config.data)
    assert len([warning for warning in caught if "damaged" in str(warning.message)]) == 1
    assert rebuilt.image_cache == "miss"
    np.testing.assert_array_equal(good.images, rebuilt.images)
    assert load_dataset(synthetic_root, config.data).image_cache == "hit"


def _flip_one_bit(content: bytes) -> bytes:
    """One bit of the pixels flipped: the array still loads, with a wrong value (only the checksum tells)."""
    flipped = bytearray(content)
    flipped[-1] ^= 0x01
    return bytes(flipped)


def test_an_unwritable_cache_warns_and_still_loads(synthetic_root, config, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="cannot write the image cache"):
        dataset = load_dataset(synthetic_root, dataclasses.replace(config.data, cache_dir=str(blocker / "cache")))
    assert dataset.image_cache == "miss" and len(dataset) > 0
    assert not any(path.name.endswith(".partial") for path in tmp_path.rglob("*"))


def test_missing_image_warning_is_still_raised_on_a_cache_hit(synthetic_root, config):
    load_dataset(synthetic_root, config.data)
    with pytest.warns(MissingImageWarning, match="jazz"):
        assert load_dataset(synthetic_root, config.data).image_cache == "hit"
