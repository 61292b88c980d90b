"""Published systems as recipes: every shipped recipe is a valid config for the model it names,
the command line lists them and trains one, and a recipe's search space reaches `tune`."""

from __future__ import annotations

import json

import pytest
import yaml

from multimodal_genre.cli import main
from multimodal_genre.config import config_dict
from multimodal_genre.data import write_synthetic_dataset
from multimodal_genre.errors import ConfigError
from multimodal_genre.recipes import load_recipe, recipe_names
from multimodal_genre.search import load_search
from multimodal_genre.views import sources_as

EXPECTED = {
    "mobilenet-v2-transfer",
    "cnn3-baseline",
    "resnet50-head",
    "resnet50-dense-head",
    "xception-head",
    "xception-dense-head",
    "gray128-cnn-7x7",
    "small-cnn-nadam",
    "cnn-mlp-hybrid",
}


def test_every_published_system_has_a_recipe():
    assert set(recipe_names()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_recipe_configures_its_model_and_states_what_differs(name):
    recipe = load_recipe(name)
    assert recipe.info.differences and recipe.info.reference and recipe.info.published_on
    network = recipe.config.models[recipe.info.model]
    assert network.image is not None  # every published system here reads the spectrogram
    assert all(0.0 < value <= 1.0 for value in recipe.info.published.values())


def test_the_full_size_mobilenet_recipe_is_as_published():
    recipe = load_recipe("mobilenet-v2-transfer")
    image = recipe.config.data.image
    assert (image.crop, image.height, image.width, image.color) == (None, 288, 432, "rgb")
    branch = recipe.config.models["cnn"].image
    assert branch.backbone.name == "mobilenet_v2" and branch.dropout == 0.6
    assert recipe.config.models["cnn"].training.learning_rate <= 1e-4 and branch.time_shift > 0


def test_the_7x7_recipe_brings_its_explorations_as_a_search_space():
    recipe = load_recipe("gray128-cnn-7x7")
    assert recipe.config.models["cnn"].image.kernel_size == 7
    space = load_search(recipe.config, recipe.search_path).spaces["cnn"]
    assert space["image.kernel_size"].choices == (3, 5, 7)
    assert (space["training.learning_rate"].low, space["training.learning_rate"].high) == (1e-4, 0.1)
    assert "training.batch_size" not in space


def test_an_unknown_recipe_names_the_known_ones(capsys):
    with pytest.raises(ConfigError, match="no recipe named 'nope' .*cnn-mlp-hybrid"):
        load_recipe("nope")
    assert main(["train", "--recipe", "nope"]) == 2
    assert "no recipe named 'nope'" in capsys.readouterr().err


def test_recipe_and_config_do_not_mix(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--recipe", "cnn3-baseline", "--config", str(tmp_path / "x.yaml")])
    assert "not allowed with argument" in capsys.readouterr().err


def test_train_needs_a_model_or_a_recipe(synthetic_root, capsys):
    assert main(["train", "--data", str(synthetic_root)]) == 2
    assert "train needs --model (or --recipe NAME)" in capsys.readouterr().err


def test_the_recipes_command_lists_each_with_its_published_figure(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    for name in EXPECTED:
        assert name in out
    assert "macro_f1 0.800" in out and "balanced_accuracy 0.510" in out


def test_train_runs_a_recipe_with_its_model_split_and_settings(tmp_path):
    # A few tracks per genre: the recipe's 128x128 RGB network trains all its 20 epochs.
    root = write_synthetic_dataset(tmp_path / "gtzan", tracks_per_genre=6)
    out = tmp_path / "run"
    assert main(["train", "--recipe", "cnn-mlp-hybrid", "--data", str(root), "--out", str(out)]) == 0
    info = json.loads((out / "run.json").read_text())
    assert info["model"] == "fused" and info["dataset"]["image_shape"] == [128, 128, 3]
    # The published 80/20 split: no validation side, so the 20 published epochs all run.
    assert info["split"]["validation"] == 0 and info["training"]["ran"] == 20
    recorded = yaml.safe_load((out / "config.yaml").read_text())
    assert recorded == config_dict(sources_as(load_recipe("cnn-mlp-hybrid").config, "picture"))
    # The run keeps what the paper reported, for the report to set beside it.
    assert info["recipe"]["name"] == "cnn-mlp-hybrid" and info["recipe"]["published"] == {"macro_f1": 0.80}
