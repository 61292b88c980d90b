import dataclasses
from pathlib import Path

import pytest

from multimodal_genre.config import load_config
from multimodal_genre.data.settings import CropBox
from multimodal_genre.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my.yaml"
    path.write_text(text)
    return path


def test_defaults_come_from_the_yaml_file():
    config = load_config()
    assert config.data.image.crop == CropBox(rows=(35, 252), cols=(54, 389))
    assert (config.data.image.height, config.data.image.width, config.data.image.color) == (64, None, "grayscale")
    assert config.split.folds == 5 and config.split.seed == 42


def test_a_file_changes_only_the_keys_it_names(tmp_path):
    config = load_config(write(tmp_path, "data:\n  image:\n    height: 64\n    color: grayscale\n"))
    assert config.data.image.height == 64
    assert config.data.image.channels == 1
    assert config.data.image.crop == CropBox(rows=(35, 252), cols=(54, 389))
    assert config.split == load_config().split


def test_crop_can_be_switched_off(tmp_path):
    assert load_config(write(tmp_path, "data:\n  image:\n    crop: null\n")).data.image.crop is None


def test_integers_are_accepted_where_numbers_are_expected(tmp_path):
    split = load_config(write(tmp_path, "split:\n  validation_fraction: 0\n")).split
    assert split.validation_fraction == 0.0 and isinstance(split.validation_fraction, float)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("data:\n  image:\n    colour: rgb\n", "unknown key 'data.image.colour' (expected one of: color, crop"),
        ("splits:\n  seed: 1\n", "unknown key 'splits'"),
        ("split:\n  folds: five\n", "'split.folds' must be an integer, got 'five'"),
        ("split:\n  folds: 1\n", "'split.folds' must be at least 2"),
        ("split:\n  seed: null\n", "'split.seed' must not be null"),
        ("split:\n  test_fraction: 0.9\n", "'split.test_fraction' must be in (0, 0.5]"),
        (
            "split:\n  test_fraction: 0.4\n  validation_fraction: 0.4\n",
            "'split.validation_fraction' plus test_fraction",
        ),
        ("data:\n  image:\n    color: sepia\n", "'data.image.color' must be one of rgb, grayscale, got 'sepia'"),
        ("data:\n  image:\n    crop:\n      rows: [1]\n", "'data.image.crop.rows' must be a list of 2 values"),
        ("data:\n  image:\n    crop:\n      rows: [200, 100]\n", "'data.image.crop.rows' must be [first, last]"),
        ("data:\n  image:\n    height: null\n", "'data.image.height' and width cannot both be null"),
        ("data:\n  image:\n    height: 3\n", "'data.image.height' must be between 8 and 4096"),
        ("data:\n  cache: yes please\n", "'data.cache' must be true or false"),
        (
            "models:\n  cnn:\n    training: {schedule: cosine, epochs: 10, warmup_epochs: 10}\n",
            "'models.cnn.training.warmup_epochs' must be at least 0 and fewer than epochs (10), got 10",
        ),
        ("models:\n  cnn:\n    training: {schedule: step}\n", "'models.cnn.training.schedule' must be one of plateau"),
        ("data: 5\n", "'data' must be a mapping"),
        ("- a\n- b\n", "the top level must be a mapping"),
        ("data: [unclosed\n", "invalid YAML at line 2, column 1: expected ',' or ']', but got the end of the file"),
        ("data:\n  cache: a: b\n", "invalid YAML at line 2, column 11: mapping values are not allowed here"),
    ],
)
def test_bad_config_names_the_file_and_key(tmp_path, text, expected):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'my.yaml'}: ")
    assert expected in message
    assert "\n" not in message


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_an_empty_file_means_all_defaults(tmp_path):
    assert load_config(write(tmp_path, "")) == load_config()


@pytest.mark.parametrize("name", ["fused-mobilenet-frozen.yaml", "fused-mobilenet-finetuned.yaml"])
def test_the_shipped_example_configs_load(name):
    config = load_config(Path(__file__).parent.parent / "configs" / name)
    assert config.models["fused"].image.backbone.name == "mobilenet_v2"


def test_a_partial_backbone_mask_or_crop_takes_the_defaults_of_the_keys_it_leaves_out(tmp_path):
    text = (
        "models:\n  cnn:\n    image:\n      backbone: {name: mobilenet_v2}\n"
        "      masking: {time_masks: 1}\n      time_crop: {width: 0.5}\n"
    )
    image = load_config(write(tmp_path, text)).models["cnn"].image
    backbone = image.backbone
    assert (backbone.name, backbone.weights, backbone.fine_tune_from) == ("mobilenet_v2", "imagenet", None)
    assert (image.masking.time_masks, image.masking.frequency_masks, image.masking.time_width) == (1, 2, 0.1)
    assert (image.time_crop.width, image.time_crop.test_crops) == (0.5, 5)


def test_a_config_cannot_be_made_invalid_from_python(config):
    with pytest.raises(ConfigError, match="SplitConfig: 'folds' must be at least 2, got 1"):
        dataclasses.replace(config.split, folds=1)
    with pytest.raises(ConfigError, match="ImageConfig: 'color' must be one of rgb, grayscale, got 'sepia'"):
        dataclasses.replace(config.data.image, color="sepia")
    with pytest.raises(ConfigError, match="TrainingConfig: 'epochs' must be an integer, got 2.5"):
        dataclasses.replace(config.models["mlp"].training, epochs=2.5)
    with pytest.raises(ConfigError, match="Config: 'seed' must not be null"):
        dataclasses.replace(config, seed=None)
    with pytest.raises(TypeError):
        config.models["mlp"] = config.models["fused"]  # the sections are read-only


def test_a_model_set_to_null_is_left_out(tmp_path):
    config = load_config(write(tmp_path, "models:\n  cnn: null\n"))
    assert list(config.models) == ["fused", "mlp", "musicnn", "svm", "xgboost"]
