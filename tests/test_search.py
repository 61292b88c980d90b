"""Search spaces: each family's own, centred on the configured values; what they cover, how they
apply, and bad ranges."""

from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml

from multimodal_genre.config import load_config
from multimodal_genre.errors import ConfigError
from multimodal_genre.search import Distribution, apply, default_values, load_search, suggest

REQUIRED = {
    "training.learning_rate",
    "training.batch_size",
    "training.optimizer",
    "training.reduce_lr.factor",
    "training.reduce_lr.patience",
    "training.early_stopping.patience",
}


def test_the_default_spaces_cover_what_every_model_needs(config):
    spaces = load_search(config).spaces
    for network in ("fused", "cnn", "mlp"):
        assert REQUIRED <= set(spaces[network])
    for network in ("fused", "cnn"):
        assert {"image.blocks", "image.first_filters", "image.kernel_size", "image.dropout"} <= set(spaces[network])
        assert spaces[network]["image.kernel_size"].choices == (3, 5)
    assert {"tabular.width", "tabular.dropout", "head.width", "head.dropout"} <= set(spaces["fused"])
    assert spaces["fused"]["training.learning_rate"].log
    assert spaces["fused"]["training.optimizer"].choices == ("adam", "nadam", "adamw")
    assert spaces["mlp"]["tabular.dropout"] == Distribution("float", low=0.3, high=0.7)
    pruner = load_search(config).pruner
    assert pruner.type == "median"
    assert [pruner.warmup_of(model) for model in ("fused", "mlp", "xgboost", "svm")] == [10, 10, 200, 0]
    built = pruner.build("xgboost")
    assert isinstance(built, optuna.pruners.MedianPruner) and built._n_warmup_steps == 200
    xgboost = {"max_depth", "learning_rate", "subsample", "colsample_bytree", "min_child_weight"}
    assert xgboost | {"reg_alpha", "reg_lambda"} == set(spaces["xgboost"])


def test_the_packaged_spaces_search_only_branches_a_model_has_and_a_users_file_every_key_it_names(config, tmp_path):
    assert {"pretrained.width", "pretrained.dropout"} <= set(load_search(config).spaces["fused"])
    demo = load_config(Path(__file__).parent.parent / "configs" / "demo.yaml")  # fused without the pre-trained branch
    fused = load_search(demo).spaces["fused"]
    assert not [key for key in fused if key.startswith("pretrained.")] and "tabular.width" in fused
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({"spaces": {"fused": {"pretrained.width": {"type": "int", "low": 8, "high": 64}}}}))
    with pytest.raises(ConfigError, match=f"^{path}: 'spaces.fused.pretrained.width' is not a setting"):
        load_search(demo, path)


def test_derived_settings_become_the_lists_they_stand_for(config):
    tuned = apply(
        config, "fused", {"image.blocks": 3, "image.first_filters": 24, "head.layers": 0, "tabular.width": 256}
    )
    assert tuned.models["fused"].image.filters == (24, 48, 96)
    assert tuned.models["fused"].head.widths == ()
    assert tuned.models["fused"].tabular.widths == (256,) * len(config.models["fused"].tabular.widths)
    assert apply(config, "mlp", {"tabular.layers": 2, "tabular.width": 512}).models["mlp"].tabular.widths == (512, 256)
    assert tuned.models["cnn"] == config.models["cnn"]


def test_suggestions_are_named_by_their_settings_and_apply(config):
    space = load_search(config).spaces["cnn"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    params = suggest(trial, space)
    assert set(params) == set(space) == set(trial.params)
    tuned = apply(config, "cnn", params)
    assert tuned.models["cnn"].training.learning_rate == params["training.learning_rate"]
    assert len(tuned.models["cnn"].image.filters) == params["image.blocks"]


def test_the_quick_search_file_keeps_the_image_architecture(config):
    quick = load_search(config, Path(__file__).parent.parent / "configs" / "search-quick.yaml").spaces
    for model in ("fused", "cnn"):
        assert not {"image.blocks", "image.first_filters", "image.kernel_size"} & set(quick[model])
        assert {"training.learning_rate", "image.dropout"} <= set(quick[model])


def test_an_override_file_narrows_and_drops_settings(config, tmp_path):
    path = tmp_path / "search.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "pruner": {"type": "hyperband", "warmup": {"fused": 4}},
                "spaces": {"xgboost": {"max_depth": {"type": "int", "low": 3, "high": 4}, "reg_alpha": None}},
            }
        )
    )
    search = load_search(config, path)
    assert search.pruner.type == "hyperband"
    assert isinstance(search.pruner.build("fused"), optuna.pruners.HyperbandPruner)
    assert (search.pruner.warmup_of("fused"), search.pruner.warmup_of("cnn")) == (4, 10)
    assert search.spaces["xgboost"]["max_depth"] == Distribution("int", low=3, high=4)
    assert "reg_alpha" not in search.spaces["xgboost"] and "reg_lambda" in search.spaces["xgboost"]


def test_a_search_file_of_the_old_form_sets_the_warm_up_by_unit(config, tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump({"pruner": {"type": "median", "warmup_epochs": 3, "warmup_rounds": 50}}))
    pruner = load_search(config, path).pruner
    assert [pruner.warmup_of(model) for model in ("fused", "mlp", "xgboost", "svm")] == [3, 3, 50, 0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"spaces": {"mlp": {"training.learning_rte": {"type": "float", "low": 0.1, "high": 0.2}}}},
            "unknown parameter 'spaces.mlp.training.learning_rte'",
        ),
        (
            {"spaces": {"cnn": {"tabular.width": {"type": "int", "low": 8, "high": 16}}}},
            "'spaces.cnn.tabular.width' is not a setting of this model",
        ),
        (
            {"spaces": {"mlp": {"tabular.dropout": {"type": "float", "low": 0.7, "high": 0.2}}}},
            "needs low < high, got low 0.7 and high 0.2",
        ),
        (
            {"spaces": {"mlp": {"tabular.dropout": {"type": "float", "low": 0.2, "high": 0.99}}}},
            "admits 0.99, which is not valid: 'models.mlp.tabular.dropout' must be between 0 and 0.9",
        ),
        (
            {"spaces": {"fused": {"training.learning_rate": {"type": "float", "low": 0, "high": 0.1, "log": True}}}},
            "is log-scaled, so low must be positive",
        ),
        (
            {"spaces": {"cnn": {"training.optimizer": {"type": "categorical", "choices": ["adam", "sgd"]}}}},
            "admits 'sgd', which is not valid",
        ),
        (
            {"spaces": {"cnn": {"training.optimizer": {"type": "categorical", "choices": []}}}},
            "needs a non-empty list of choices",
        ),
        (
            {"spaces": {"cnn": {"image.filters": {"type": "int", "low": 8, "high": 16}}}},
            "search image.blocks and image.first_filters instead",
        ),
        (
            {"spaces": {"cnn": {"image.dropout": {"type": "beta", "low": 0.1, "high": 0.2}}}},
            "'spaces.cnn.image.dropout' must be a distribution",
        ),
        (
            {"spaces": {"cnn": {"image.dropout": {"type": "float", "low": 0.1, "high": 0.2, "scale": 2}}}},
            "unknown key 'spaces.cnn.image.dropout.scale'",
        ),
        ({"spaces": {"lda": {}}}, "unknown key 'spaces.lda'"),
        ({"pruner": {"type": "percentile"}}, "'pruner.type' must be one of median, hyperband, none"),
        ({"pruner": {"warmup": {"lda": 3}}}, "'pruner.warmup.lda' is not a known model"),
        ({"pruner": {"warmup": {"cnn": -1}}}, "'pruner.warmup.cnn' must not be negative, got -1"),
        ({"storage": {"heartbeat_seconds": 10, "grace_seconds": 5}}, "'storage.grace_seconds' must exceed"),
    ],
)
def test_a_bad_search_file_names_the_file_and_key(config, tmp_path, change, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(change))
    with pytest.raises(ConfigError, match=f"^{path}: ") as raised:
        load_search(config, path)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_the_configured_values_are_those_the_space_can_hold(config):
    spaces = load_search(config).spaces
    values = default_values(config, "fused", spaces["fused"])
    assert values["image.blocks"] == len(config.models["fused"].image.filters)
    assert values["image.first_filters"] == config.models["fused"].image.filters[0]
    assert values["training.learning_rate"] == config.models["fused"].training.learning_rate
    assert apply(config, "fused", values) == config
    for model, space in spaces.items():  # every packaged space holds every configured value
        assert apply(config, model, default_values(config, model, space)) == config


def test_the_packaged_spaces_are_centred_on_the_configured_values(config):
    spaces = load_search(config).spaces
    rate = spaces["fused"]["training.learning_rate"]
    assert rate.log and np.sqrt(rate.low * rate.high) == pytest.approx(config.models["fused"].training.learning_rate)
    c = spaces["svm"]["c"]
    assert np.sqrt(c.low * c.high) == pytest.approx(config.models["svm"].c) and c.high / c.low == pytest.approx(100)
    depth = spaces["xgboost"]["max_depth"]
    assert (depth.low + depth.high) / 2 == config.models["xgboost"].max_depth
    alpha = spaces["xgboost"]["reg_alpha"]  # centred on 0 and cut at 0: it still holds the configured 0
    assert (alpha.low, alpha.high) == (0.0, 1.0)


def test_a_space_centres_on_another_config_and_holds_its_categorical_value(config, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("models:\n  svm: {c: 0.5}\n  mlp: {training: {batch_size: 48}}\n")
    other = load_config(path)
    spaces = load_search(other).spaces
    assert (spaces["svm"]["c"].low, spaces["svm"]["c"].high) == pytest.approx((0.05, 5.0))
    assert spaces["mlp"]["training.batch_size"].choices == (16, 32, 64, 48)
    assert apply(other, "mlp", default_values(other, "mlp", spaces["mlp"])) == other


def test_a_fixed_range_must_hold_the_configured_value(config, tmp_path):
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({"spaces": {"svm": {"c": {"type": "float", "low": 10.0, "high": 100.0}}}}))
    space = load_search(config, path).spaces["svm"]
    with pytest.raises(ConfigError, match="'spaces.svm.c' does not hold the configured value 3.0"):
        default_values(config, "svm", space)


@pytest.mark.parametrize(
    ("distribution", "message"),
    [
        ({"type": "float", "factor": 1.0}, "'factor' must be a number above 1, got 1.0"),
        ({"type": "float", "spread": 0.1, "min": 5.0}, "cannot be centred on the configured value 3.0"),
        ({"type": "float", "factor": 2, "low": 1.0}, "unknown key 'spaces.svm.c.low'"),
    ],
)
def test_a_bad_centred_range_names_its_key(config, tmp_path, distribution, message):
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({"spaces": {"svm": {"c": distribution}}}))
    with pytest.raises(ConfigError, match=f"^{path}: ") as raised:
        load_search(config, path)
    assert message in str(raised.value)
