"""run.json as one typed record: every kind of run folder written today (tests/fixtures/format1) still
loads and makes a report; a damaged or foreign record is one error naming the file and the field."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multimodal_genre.cli import main
from multimodal_genre.config import load_config, load_run_config
from multimodal_genre.data import GENRES, MissingImageWarning, load_dataset
from multimodal_genre.errors import RunError
from multimodal_genre.families import BaggingConfig
from multimodal_genre.records import ComparisonRecord, ModelRecord, StudyRecord, portable_command, read_record
from multimodal_genre.report import write_report
from multimodal_genre.runs import load_model_run

from conftest import one_error

PROBABILITIES = [f"p_{genre}" for genre in GENRES]

FORMAT1 = Path(__file__).parent / "fixtures" / "format1"
MODEL = FORMAT1 / "runs" / "20261130-090000-mlp"
HOLDOUT = FORMAT1 / "runs" / "20261130-090100-compare"
KFOLD = FORMAT1 / "runs" / "20261130-090200-compare-2fold"
RECIPE = FORMAT1 / "runs" / "20261130-090300-recipe-small-cnn-nadam-2fold"
STUDY = FORMAT1 / "tuning" / "fixture-xgboost"
ENSEMBLE = FORMAT1 / "runs" / "20261203-090400-mlp-fold-ensemble"


def test_every_kind_of_record_reads_back_typed():
    model = read_record(MODEL)
    assert isinstance(model, ModelRecord) and model.model == "mlp" and model.split.kind == "holdout"
    assert model.training.kept <= model.training.ran and model.dataset.image_shape == (32, 49, 1)
    kfold = read_record(KFOLD)
    assert isinstance(kfold, ComparisonRecord) and (kfold.models, kfold.folds) == (("xgboost",), 2)
    recipe = read_record(RECIPE).recipe
    assert (recipe.name, recipe.model, recipe.published) == ("small-cnn-nadam", "cnn", {"accuracy": 0.7085})
    study = read_record(STUDY)
    assert isinstance(study, StudyRecord) and study.recipe is None  # format 1 studies kept no recipe
    assert study.trials["complete"] + study.trials["pruned"] == 2 and (STUDY / study.final_run).is_dir()
    # Read as it ran: keys added since (the fused ensemble, now on by default) take their "off" defaults.
    assert load_run_config(MODEL / "config.yaml") == load_config(Path(__file__).parent.parent / "configs" / "demo.yaml")


def test_a_report_builds_from_run_folders_of_format_1(tmp_path, monkeypatch):
    monkeypatch.chdir(FORMAT1)  # the report names each folder's location from the working directory
    folders = [path.relative_to(FORMAT1) for path in (MODEL, HOLDOUT, KFOLD, RECIPE, STUDY)]
    report = write_report(folders, tmp_path / "out", command="multimodal-genre report runs/* tuning/fixture-xgboost")
    # The lines of version 0.1.0's page made from these folders (report-0.1.0.md), but for its date,
    # in today's order: a summary added at the top, models best first (a table row's cells compared
    # in any order), the provenance moved to an appendix at the end.
    made, then = (_lines(text) for text in (report.markdown.read_text(), (FORMAT1 / "report-0.1.0.md").read_text()))
    gone = then - made
    assert gone.pop("## Data and runs") == 1
    # Since format 1, a single split's scores carry their bootstrap interval: that table's lines changed.
    scores = (FORMAT1 / "report-0.1.0.md").read_text().split("Test scores", 1)[1].split("\n\n", 2)[1]
    assert set(gone) <= {"Test scores", *_lines(scores)}
    added = made - then
    assert "Test scores; the interval: 2000 bootstrap resamples of the test tracks" in added
    assert {"## Summary", "## Appendix: data, runs and versions"} <= set(added)
    new = {"**Contents**", "### Paired comparison with the best model", "### Precision, recall and F1 per genre"}
    assert new | {"### Reliability"} <= set(added)
    assert any(line.startswith("### Most confidently wrong: ") for line in added)
    text = report.markdown.read_text()
    holdout = pd.read_csv(HOLDOUT / "comparison.csv", index_col="model")
    scores = text[text.index("Test scores") :].splitlines()
    for model in holdout.index:
        row = next(line for line in scores if line.startswith("|") and line.split("|")[1].strip() == model)
        assert row.split("|")[-3].strip() == f"{holdout.loc[model, 'macro_f1']:.3f}"
    assert "| small-cnn-nadam | accuracy | 0.709 " in text  # the published figure beside ours
    assert "## Tuning study: fixture-xgboost" in text and report.synthetic
    # Since format 1: a reliability chart for each of the two groups.
    assert len(report.figures) == 18 and all(path.stat().st_size > 0 for path in report.figures)


def _lines(markdown: str) -> Counter[str]:
    """A page's lines but blank and date lines; a table row as its sorted cells."""
    lines = [line for line in markdown.splitlines() if line and not line.startswith("Made ")]
    return Counter(" | ".join(sorted(line.strip("|").split("|"))) if line.startswith("|") else line for line in lines)


def test_a_fold_ensemble_written_before_bagging_loads_as_the_bag_it_was(synthetic_root, tmp_path):
    run = load_model_run(ENSEMBLE)
    assert run.config.bagging == {"mlp": BaggingConfig(3, "folds")}  # from training.ensemble
    members = run.record.training.members
    assert run.record.training.kept == sum(member.kept for member in members)  # as format 1 wrote it
    with pytest.warns(MissingImageWarning):
        dataset = load_dataset(synthetic_root, dataclasses.replace(run.config.data, cache=False))
    saved = pd.read_csv(ENSEMBLE / "predictions.csv").set_index("track")
    rows = np.flatnonzero(np.isin(dataset.track_ids, saved.index))
    predicted = run.predict_proba(dataset.tracks(rows))
    np.testing.assert_allclose(predicted, saved.loc[dataset.track_ids[rows], PROBABILITIES], atol=1e-4)
    assert not run.seen.trained & set(saved.index)  # the test tracks were neither trained on nor watched
    report = write_report([ENSEMBLE], tmp_path / "out")
    assert "| mlp " in report.markdown.read_text() and report.figures


def damaged(tmp_path: Path, change) -> Path:
    run = Path(shutil.copytree(MODEL, tmp_path / "run"))
    record = json.loads((run / "run.json").read_text())
    change(record)
    (run / "run.json").write_text(json.dumps(record))
    return run


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda record: record["training"].pop("kept"), "run.json: missing key 'training.kept'"),
        (lambda record: record["split"].update(test="many"), "run.json: 'split.test' must be an integer, got 'many'"),
        (lambda record: record.update(kind="notebook"), "run.json: 'kind' must be one of model, comparison, study"),
        (
            lambda record: record.update(format=3),
            "run.json: run format 3, this version of multimodal-genre reads formats 1 and 2",
        ),
        (lambda record: record.update(colour="red"), "run.json: unknown key 'colour'"),
    ],
)
def test_a_damaged_record_is_one_error_naming_the_file_and_the_field(tmp_path, capsys, change, message):
    run = damaged(tmp_path, change)
    with pytest.raises(RunError, match=message):
        read_record(run)
    for command in (["report", str(run), "--out", str(tmp_path / "out")], ["predict", str(run)]):
        assert main(command) == 2
        error = one_error(capsys.readouterr().err)
        assert str(run / "run.json") in error and message.split(": ", 1)[1] in error
    assert not (tmp_path / "out").exists()


def test_a_record_that_is_not_an_object_is_refused(tmp_path):
    run = Path(shutil.copytree(MODEL, tmp_path / "run"))
    (run / "run.json").write_text("[1, 2]")
    with pytest.raises(RunError, match="run.json: not a run record"):
        read_record(run)


def test_a_run_folder_without_its_model_file_cannot_predict(capsys):
    assert main(["predict", str(MODEL)]) == 2  # the fixtures keep no weights
    assert one_error(capsys.readouterr().err).endswith(f"{MODEL}: the mlp model's model.keras is missing")


def test_a_recorded_command_names_paths_beside_the_checkout_relatively(tmp_path, monkeypatch):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    monkeypatch.chdir(checkout)
    command = portable_command(["python", "b.py", "--data", str(tmp_path / "shared" / "gtzan"), "--out", "/elsewhere"])
    assert command == "python b.py --data ../shared/gtzan --out /elsewhere"
