"""The support vector machine: each block of columns weighs the same in its kernel, its settings and
files are checked, and a study tunes it though its training has no length for the re-train to fix.
(The checks every family passes, test_families.py runs on it with musicnn's view.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from multimodal_genre.config import load_config
from multimodal_genre.data import Tracks, holdout_split
from multimodal_genre.errors import ConfigError, RunError
from multimodal_genre.families import family
from multimodal_genre.families.base import fit_split
from multimodal_genre.families.svm.kernel import fit_machine
from multimodal_genre.families.svm.settings import MusicViewConfig, SVMConfig
from multimodal_genre.search import load_search
from multimodal_genre.training import run_model
from multimodal_genre.tuning import StudyOptions, tune
from multimodal_genre.views import prepare

FEATURES_ONLY = SVMConfig(c=3.0, log_variances=True, pretrained=None)


def test_each_block_of_columns_weighs_the_same_in_the_kernel_and_a_dead_unit_nothing(fast_dataset):
    view = MusicViewConfig(name="musicnn", weights="msd", activations=("mean_pool", "tags"))
    widths = [57, 753, 50, 753, 50]  # the feature row, then each activation's mean and its max over the patches
    rng = np.random.default_rng(0)
    pooled = rng.normal(0.0, rng.uniform(0.1, 50.0, sum(widths[1:])), (len(fast_dataset), sum(widths[1:])))
    pooled[:, 0] = 2e-6 + rng.normal(0.0, 1e-13, len(fast_dataset))  # a unit that never fires: rounding noise
    tracks = Tracks(fast_dataset.images, fast_dataset.features, {view.embedding.key: pooled})
    machine = fit_machine(SVMConfig(c=3.0, log_variances=True, pretrained=view), tracks, fast_dataset.labels, seed=0)
    ends = np.cumsum(widths)
    weights = [machine.rows[:, end - width : end].var(axis=0).sum() for end, width in zip(ends, widths, strict=True)]
    np.testing.assert_allclose(weights, 1.0, rtol=1e-9)
    assert not machine.rows[:, 57].any()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{c: 0.0, log_variances: true, pretrained: null}", "'models.svm.c' must be positive, got 0.0"),
        (
            "{pretrained: {name: musicnn, weights: msd, activations: [pool5]}}",
            "'models.svm.pretrained.activations' must list some of mean_pool, max_pool, penultimate, tags",
        ),
    ],
)
def test_bad_settings_name_their_key(section, message, tmp_path):
    path = tmp_path / "svm.yaml"
    path.write_text(f"models:\n  svm: {section}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_a_damaged_machine_file_is_one_line_naming_its_folder(fast_dataset, fast_config, tmp_path):
    split = holdout_split(fast_dataset.labels, fast_dataset.groups, fast_config.split)
    fit_split(family("svm"), FEATURES_ONLY, fast_dataset, split, seed=0).save(tmp_path)
    (tmp_path / "svm_rows.npz").write_bytes(b"not a zip file")
    with pytest.raises(RunError, match=f"^{tmp_path}: damaged or not a machine this package saved"):
        family("svm").load(tmp_path)


def test_a_run_fits_the_machine_on_the_validation_rows_too(fast_dataset, fast_config, tmp_path):
    """It stops early on nothing, so a comparison's validation rows join its training rows."""
    split = holdout_split(fast_dataset.labels, fast_dataset.groups, fast_config.split)
    run_model(
        "svm", prepare(fast_dataset, fast_config.with_model("svm", FEATURES_ONLY), ["svm"]), split, tmp_path / "svm"
    )
    sides = pd.read_csv(tmp_path / "svm" / "split.csv")["side"].value_counts().to_dict()
    assert sides == {"train": len(split.train) + len(split.validation), "test": len(split.test)}


def test_a_comparison_resumed_takes_back_a_finished_machine(fast_dataset, fast_config, tmp_path, caplog):
    """Its split.csv has the validation rows among the training rows, as it fitted on them."""
    from multimodal_genre.comparison import run_comparison

    config = fast_config.with_model("svm", FEATURES_ONLY)
    first = run_comparison(fast_dataset, config, tmp_path / "compare", ["svm"])
    caplog.set_level("INFO", logger="multimodal_genre")
    again = run_comparison(fast_dataset, config, tmp_path / "compare", ["svm"], resume=True)
    assert any("took back the finished run" in record.getMessage() for record in caplog.records)
    assert again.scores["macro_f1"].tolist() == first.scores["macro_f1"].tolist()


def test_a_study_tunes_the_machine_and_re_trains_the_best(fast_dataset, fast_config, tmp_path):
    config = fast_config.with_model("svm", FEATURES_ONLY)
    result = tune("svm", fast_dataset, config, load_search(config), StudyOptions(trials=3), out=tmp_path)
    assert result.counts["complete"] == 3 and set(result.best_params) == {"c", "log_variances"}
    tuned = load_config(tmp_path / "svm" / "tuned.yaml").models["svm"]
    assert tuned.c == pytest.approx(result.best_params["c"]) and tuned.pretrained is None
    # Each view alone carries half of the synthetic signal; the feature row alone is well above chance.
    assert result.test_scores["macro_f1"] > 0.3


def test_a_loaded_machine_gives_the_probabilities_of_scikit_learns_calibrated_svc(fast_dataset, fast_config, tmp_path):
    """It fits one SVC again and applies its saved temperature; a file saved without one (before the
    temperature was kept) is calibrated again, to the same probabilities."""
    import json

    from multimodal_genre.families.svm.kernel import calibrated_svc, columns, machine_proba

    split = holdout_split(fast_dataset.labels, fast_dataset.groups, fast_config.split)
    trained = fit_split(family("svm"), FEATURES_ONLY, fast_dataset, split, seed=3)
    trained.save(tmp_path)
    machine = trained.model
    test = fast_dataset.tracks(split.test)
    expected = calibrated_svc(FEATURES_ONLY, machine.rows, machine.labels, 3).predict_proba(
        (columns(FEATURES_ONLY, test)[0] - machine.centre) / machine.scale
    )
    np.testing.assert_allclose(machine_proba(machine, test), expected, atol=1e-9)
    np.testing.assert_allclose(machine_proba(family("svm").load(tmp_path), test), expected, atol=1e-9)
    saved = json.loads((tmp_path / "svm.json").read_text())
    (tmp_path / "svm.json").write_text(json.dumps({key: saved[key] for key in ("settings", "seed")}))
    np.testing.assert_allclose(machine_proba(family("svm").load(tmp_path), test), expected, atol=1e-9)
