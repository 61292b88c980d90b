"""The report command: one self-contained HTML page and a Markdown twin made from run folders alone,
checked against the run folders' own numbers and, in a real headless Chromium, as rendered."""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import os
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import optuna
import pandas as pd
import pytest
from PIL import Image
from scipy import stats

from multimodal_genre.cli import main
from multimodal_genre.comparison import run_comparison
from multimodal_genre.data import GENRES
from multimodal_genre.plots import plot_per_genre_f1
from multimodal_genre.recipes import load_recipe
from multimodal_genre.records import Provenance
from multimodal_genre.report import write_report
from multimodal_genre.report.browser import check_in_browser, find_chromium
from multimodal_genre.report.calibration import reliability
from multimodal_genre.report.figures import entry_colors
from multimodal_genre.report.mistakes import THUMBNAIL, confident_mistakes
from multimodal_genre.report.paired import bootstrap_interval, paired_table
from multimodal_genre.report.sources import groups_of, read_sources
from multimodal_genre.search import load_search
from multimodal_genre.statistics import corrected_t_test
from multimodal_genre.tuning import StudyOptions, tune

from conftest import one_error


@pytest.fixture(scope="module")
def crossval(tmp_path_factory, fast_dataset, fast_config):
    return run_comparison(
        fast_dataset, fast_config, tmp_path_factory.mktemp("runs") / "cv", models=["mlp", "xgboost"], folds=2
    )


@pytest.fixture(scope="module")
def study(tmp_path_factory, fast_dataset, fast_config):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return tune(
        "xgboost",
        fast_dataset,
        fast_config,
        load_search(fast_config),
        StudyOptions(trials=3),
        out=tmp_path_factory.mktemp("tuning"),
    )


@pytest.fixture(scope="module")
def sources(comparison, crossval, study):
    return [comparison.directory, crossval.directory, study.directory]


@pytest.fixture(scope="module")
def report(sources, tmp_path_factory):
    return write_report(sources, tmp_path_factory.mktemp("report") / "out", command="multimodal-genre report ...")


def _rows(page: str, label: str, caption: str = "") -> list[list[str]]:
    """The cells' text of each row headed ``label``, in page order, in tables whose caption starts
    with ``caption``."""
    tables = [chunk.split("</table>")[0] for chunk in page.split("<table>")[1:]]
    tables = [table for table in tables if table.startswith(f"<caption>{caption}" if caption else "")]
    rows = [
        row for table in tables for row in re.findall(rf"<tr><th>{re.escape(html.escape(label))}</th>(.*?)</tr>", table)
    ]
    return [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)] for row in rows]


def test_the_page_is_self_contained(report):
    page = report.html.read_text()
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(source.startswith("data:image/png;base64,") for source in sources)
    links = re.findall(r'href="([^"]*)"', page)  # the contents: links within the page only
    assert links and all(link[1:] in re.findall(r'<h2 id="([^"]*)"', page) for link in links)
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "default-src 'none'" in page  # the browser itself refuses any request
    # Every figure is embedded whole, and every embedded image is a PNG that decodes.
    embedded = [base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]
    assert set(embedded) == {path.read_bytes() for path in report.figures}
    assert len(embedded) == len(report.figures) + 1  # the summary shows the first scores chart again
    for data in embedded:
        assert Image.open(io.BytesIO(data)).size[0] >= THUMBNAIL[0]


def test_markdown_has_the_same_tables_and_links_every_figure(report, comparison):
    text = report.markdown.read_text()
    holdout = pd.read_csv(comparison.directory / "comparison.csv", index_col=0)
    for model in holdout.index:
        scores = text[text.index("Test scores") :].splitlines()
        row = next(line for line in scores if line.startswith("|") and line.split("|")[1].strip() == model)
        macro_f1, interval = (cell.strip() for cell in row.split("|")[-3:-1])
        assert macro_f1 == f"{holdout.loc[model, 'macro_f1']:.3f}"  # the macro-F1 column, then its interval
        low, high = map(float, interval.split(" to "))
        assert low <= holdout.loc[model, "macro_f1"] <= high and low < high
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert {report.markdown.parent / link for link in links} == set(report.figures)
    page = report.html.read_text()
    for heading in re.findall(r"<h[23][^>]*>(.*?)</h[23]>", page):
        assert html.unescape(heading) in text


def test_synthetic_runs_are_flagged_at_the_top(report):
    page = report.html.read_text()
    banner = page.index('class="banner"')
    assert banner < page.index("<h2") and "SYNTHETIC DATA" in page[banner : banner + 200]
    assert report.markdown.read_text().splitlines()[2].startswith("> **SYNTHETIC DATA")
    assert report.synthetic


def test_real_data_runs_carry_no_warning(comparison, tmp_path):
    real = Path(shutil.copytree(comparison.directory / "mlp", tmp_path / "run"))
    info = json.loads((real / "run.json").read_text())
    info["dataset"]["synthetic"] = False
    (real / "run.json").write_text(json.dumps(info))
    written = write_report([real], tmp_path / "out")
    assert not written.synthetic and "SYNTHETIC" not in written.html.read_text()


def test_scores_match_the_run_folders(report, comparison, crossval, fast_dataset):
    page = report.html.read_text()
    holdout = pd.read_csv(comparison.directory / "comparison.csv", index_col=0)
    for model in holdout.index:
        source, tracks, accuracy, balanced, macro_f1, _ = _rows(page, model, "Test scores")[0]
        assert (source, accuracy, balanced, macro_f1) == (
            "compare",
            *(f"{holdout.loc[model, metric]:.3f}" for metric in ("accuracy", "balanced_accuracy", "macro_f1")),
        )
    # The cross-validated mlp and xgboost come second, in their own section, with their spread.
    folds = pd.read_csv(crossval.directory / "folds.csv")
    for model in ("mlp", "xgboost"):
        scores = folds[folds["model"] == model]["macro_f1"]
        source, tracks, *_, macro_f1 = _rows(page, model, "Test scores")[1]
        assert (source, tracks) == ("cv", str(len(fast_dataset)))  # every track tested once
        assert macro_f1 == f"{scores.mean():.3f} ± {scores.std(ddof=1):.3f}"


def test_a_model_run_inside_a_comparison_is_named_by_its_path_from_it(crossval, tmp_path, monkeypatch):
    monkeypatch.chdir(crossval.directory.parent)
    page = write_report([crossval.directory / "fold2" / "mlp"], tmp_path / "out").html.read_text()
    ((kind, path, *_),) = _rows(page, "cv/fold2/mlp", "Run folders")
    assert (kind, path) == ("mlp model run", ".")
    assert _rows(page, "mlp", "Test scores")[0][0] == "cv/fold2/mlp"


def test_a_report_of_one_model_shows_one_bar_chart_and_no_best_marks(crossval, tmp_path):
    """One model has nothing to rank: its scores as a chart of one bar, twice, and stars on every
    genre would say nothing. Its one split's macro-F1 comes with a bootstrap interval."""
    report = write_report([crossval.directory / "fold2" / "mlp"], tmp_path / "out")
    page, names = report.html.read_text(), [path.name for path in report.figures]
    assert "★" not in page and not any(name.endswith("macro_f1.png") for name in names)
    assert [name for name in names if name.endswith("per_genre_f1.png")] == ["group1-per_genre_f1.png"]
    (row,) = _rows(page, "mlp", "Test scores")
    low, high = map(float, row[-1].split(" to "))
    assert low <= float(row[-2]) <= high


def test_the_per_genre_chart_keeps_its_width_with_many_models(tmp_path):
    means = pd.DataFrame(0.5, index=GENRES, columns=[f"model {index}" for index in range(8)])
    figure = plot_per_genre_f1(tmp_path / "f1.png", means, None, "F1 per genre")
    (axes,) = figure.axes
    assert axes.get_position().width > 0.8 and (tmp_path / "f1.png").is_file()


def test_a_recipe_run_shows_the_published_figure_beside_ours(fast_dataset, fast_config, tmp_path):
    recipe = load_recipe("small-cnn-nadam")  # published: test accuracy 0.7085 on one split
    result = run_comparison(
        fast_dataset, fast_config, tmp_path / "cv", models=["cnn"], folds=2, provenance=Provenance(recipe=recipe.info)
    )
    page = write_report([result.directory], tmp_path / "out").html.read_text()
    accuracy = result.scores["accuracy"]
    assert _rows(page, "small-cnn-nadam", "Published figures") == [
        [
            "accuracy",
            f"{recipe.info.published['accuracy']:.3f}",
            f"{accuracy.mean():.3f} ± {accuracy.std(ddof=1):.3f}",
            "grouped 2-fold, mean ± std",
            "cv",
        ]
    ]
    assert "differs: " + "; ".join(recipe.info.differences) in html.unescape(page)


def test_runs_without_a_recipe_have_no_published_section(report):
    assert "Published systems" not in report.html.read_text()


def test_the_best_model_per_genre_is_marked(report, comparison):
    page = report.html.read_text()
    per_genre = pd.read_csv(comparison.directory / "per_genre_f1.csv", index_col=0)
    table = page[page.index("F1 per genre;") :]
    for genre in GENRES:
        row = re.search(rf"<tr><th>{genre}</th>(.*?)</tr>", table).group(1)
        cells = re.findall(r'<td class="([^"]*)">([^<]*)</td>', row)
        marked = {value.split()[0] for classes, value in cells if "best" in classes}
        assert marked == {f"{per_genre.loc[genre].max():.3f}"}


def test_the_most_confused_pairs_are_in_words(report, crossval):
    counts = sum(
        pd.read_csv(crossval.directory / f"fold{fold}" / "xgboost" / "confusion_matrix.csv", index_col=0).to_numpy()
        for fold in (1, 2)
    )
    off = counts - np.diag(np.diag(counts))
    true, predicted = np.unravel_index(off.argmax(), off.shape)
    expected = f"{GENRES[true]} -&gt; {GENRES[predicted]}: {off[true, predicted]} of {counts[true].sum()}"
    line = re.findall(r"<li>xgboost: (.*?)</li>", report.html.read_text())[1]
    assert line.startswith(expected)


def test_a_study_shows_its_best_settings_and_plots(report, study):
    page = report.html.read_text()
    assert f"Tuning study: {study.study_name}" in page
    for name, value in study.best_params.items():
        assert _rows(page, name) == [[f"{value:.4g}" if isinstance(value, float) else str(value)]]
    assert 'alt="Optimisation history' in page
    # Optuna's plots switch Matplotlib's style; the report's own charts keep theirs.
    assert matplotlib.rcParams["axes.facecolor"] == matplotlib.rcParamsDefault["axes.facecolor"]
    # Its re-trained run is scored beside the hold-out runs: they share the test tracks.
    assert _rows(page, "xgboost (tuned)", "Test scores")[0][-2] == f"{study.test_scores['macro_f1']:.3f}"
    # It says what it weighed the winner against, and what it decided.
    decision = study.decision
    assert _rows(page, "decision") == [[decision.words()]]
    configured = f"configured settings (trial {decision.default_trial}): held-out macro-F1"
    assert _rows(page, configured) == [[f"{decision.default_score:.4f}"]]


def test_entries_are_grouped_by_test_tracks_best_first_and_keep_their_colour(sources):
    groups = groups_of(read_sources(sources))
    labels = [sorted(entry.label for entry in group.entries) for group in groups]
    assert labels == [["cnn", "fused", "mlp", "xgboost", "xgboost (tuned)"], ["mlp", "xgboost"]]
    for group in groups:
        scores = [entry.metric_table()["macro_f1"].mean() for entry in group.entries]
        assert scores == sorted(scores, reverse=True)
    # A model keeps its colour across sections; its tuned run gets a shade of it.
    colors = entry_colors([entry for group in groups for entry in group.entries])
    assert len(colors) == 5 and len(set(colors.values())) == 5


def test_a_folder_named_twice_is_read_once(comparison, crossval):
    twice = read_sources([comparison.directory, crossval.directory, comparison.directory / ".." / "compare"])
    assert [source.directory for source in twice] == [comparison.directory, crossval.directory]


def test_a_model_that_comes_twice_on_the_same_tracks_is_told_apart(comparison, tmp_path):
    again = Path(shutil.copytree(comparison.directory, tmp_path / "20261121-120000-again"))
    (group,) = groups_of(read_sources([comparison.directory, again]))
    labels = [entry.label for entry in group.entries]
    for model in ("fused", "cnn", "mlp", "xgboost"):  # equal scores: the copy comes right after its original
        assert labels[labels.index(model) + 1] == f"{model} · again"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda run: (run / "run.json").unlink(), "not a run folder (no run.json)"),
        (lambda run: (run / "run.json").write_text('{"format": 99, "kind": "model"}'), "reads formats 1 and 2"),
        (lambda run: (run / "classification_report.json").unlink(), "classification_report.json: cannot read"),
        (lambda run: (run / "confusion_matrix.csv").write_text("a,b\n1,2\n"), "not the ten genres"),
    ],
)
def test_bad_folders_are_refused_before_anything_is_written(damage, message, comparison, tmp_path, capsys):
    run = Path(shutil.copytree(comparison.directory / "mlp", tmp_path / "run"))
    damage(run)
    out = tmp_path / "out"
    assert main(["report", str(comparison.directory), str(run), "--out", str(out)]) == 2
    error = one_error(capsys.readouterr().err)
    assert message in error and str(run) in error
    assert not out.exists()


def test_a_comparison_fold_points_to_its_runs_and_no_report_folder_is_left(crossval, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["report", str(crossval.directory / "fold1")]) == 2
    assert "the run folders in it: mlp, xgboost" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()  # refused before the default folder is made


def test_the_report_opens_with_the_answer_and_ends_with_provenance(report, comparison):
    page = report.html.read_text()
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", page)
    assert headings[0] == "Summary" and headings[-1] == "Appendix: data, runs and versions"
    assert page.index("Contents") < page.index('<h2 id="summary">Summary</h2>')  # a table of contents first
    start = page.index('<h2 id="summary">Summary</h2>')
    summary = page[start : page.index("<h2", start + 1)]
    holdout = pd.read_csv(comparison.directory / "comparison.csv", index_col=0)
    best = holdout["macro_f1"].idxmax()
    assert f"best {best}, macro-F1 {holdout.loc[best, 'macro_f1']:.3f}" in summary
    assert "fusion (fused)" in summary and "weakest genres" in summary and "<img" in summary
    assert page.index("Package and library versions") > page.index('<h2 id="configs">Configs</h2>')


def test_every_config_change_is_shown_a_null_included(report):
    """The demo config trains the fused model without the pre-trained branch (pretrained: null)."""
    page = report.html.read_text()
    [[demo, default]] = [[html.unescape(cell) for cell in row] for row in _rows(page, "models.fused.pretrained")]
    assert demo == "null" and "'name': 'musicnn'" in default
    assert _rows(page, "models.fused.image.filters")[0] == ["[8, 16]", "[16, 32, 64, 128]"]


def test_the_command_writes_into_out(comparison, tmp_path, capsys):
    assert main(["report", str(comparison.directory), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "report.html").is_file() and (tmp_path / "out" / "report.md").is_file()
    assert "SYNTHETIC" in capsys.readouterr().err


@pytest.fixture(scope="module")
def chromium():
    if find_chromium() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI must provide Chromium (.ci/run installs the 'chromium' package)")
        pytest.skip("no Chromium on this machine")


def test_the_report_renders_in_a_real_browser(chromium, report):
    check = check_in_browser(report.html, report.html.parent / "screenshot.png")
    assert check.problems == []
    assert len(check.images) == len(report.figures) + 1  # the summary shows the first scores chart again
    assert all(image["width"] >= THUMBNAIL[0] for image in check.images)
    page = report.html.read_text()
    assert len(check.tables) == page.count("<table>") and min(check.tables) >= 2
    assert check.text.startswith("multimodal_genre report") and "SYNTHETIC DATA" in check.text
    shot = Image.open(check.screenshot).convert("L")
    assert shot.size[0] == 1280 and shot.size[1] >= min(check.height, 30000) - 1 > 3000
    # Rendered content, not a blank page: the top holds dark text on white and the red banner.
    top = np.asarray(shot.crop((0, 0, 1280, 600)))
    assert (top < 80).mean() > 0.005 and (top > 240).mean() > 0.5


def test_the_browser_check_catches_broken_and_outside_images(chromium, tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        "<!DOCTYPE html><html><body><table><tr><td>1</td></tr></table>"
        '<img alt="broken" src="data:image/png;base64,AAAA"><img alt="outside" src="http://127.0.0.1:9/x.png">'
        "</body></html>"
    )
    check = check_in_browser(page, tmp_path / "shot.png")
    assert check.broken_images == ["broken", "outside"]
    assert check.requests == ["http://127.0.0.1:9/x.png"]


def test_the_corrected_t_test_widens_the_plain_one_by_the_folds_overlap():
    differences = np.array([0.02, 0.03, 0.01, 0.04, 0.02])
    t, p = corrected_t_test(differences, test_to_train=0.25)  # 5 folds: a fifth tested, four fifths trained on
    plain = differences.mean() / (differences.std(ddof=1) / np.sqrt(5))
    assert t == pytest.approx(plain * np.sqrt((1 / 5) / (1 / 5 + 0.25)))
    assert p == pytest.approx(2 * stats.t.sf(t, 4)) and 0 < p < 0.05
    assert corrected_t_test(np.zeros(5), 0.25) == (0.0, 1.0)


def test_models_are_paired_with_the_best_fold_by_fold_or_by_bootstrap(crossval, comparison):
    (group,) = groups_of(read_sources([crossval.directory]))
    table = paired_table(group)
    best, other = group.entries
    scores = crossval.scores.pivot(index="fold", columns="model", values="macro_f1")
    expected = " ".join(f"{value:+.3f}" for value in scores[best.model] - scores[other.model])
    assert table.loc[f"{best.label} - {other.label}", "per fold"] == expected
    (holdout,) = groups_of(read_sources([comparison.directory]))
    low, high, difference = bootstrap_interval(holdout.entries[0], holdout.entries[-1])
    assert low <= difference <= high and difference >= 0  # the best first
    assert bootstrap_interval(holdout.entries[0], holdout.entries[-1]) == (low, high, difference)  # seeded
    assert "95% bootstrap interval" in paired_table(holdout).columns


def test_reliability_bins_measure_how_far_confidence_is_from_accuracy(crossval):
    (group,) = groups_of(read_sources([crossval.directory]))
    entry = group.entries[0]
    found = reliability(entry)
    table = entry.predictions()
    assert found.tracks.sum() == len(table) and np.all(np.diff(found.confidence) > 0)
    confidence = table[[f"p_{genre}" for genre in GENRES]].max(axis=1)
    accuracy = (table["true_genre"] == table["predicted_genre"]).mean()
    assert found.error >= abs(confidence.mean() - accuracy) - 1e-12  # no less than the gap over all tracks
    right = dataclasses.replace(entry.results[0], predictions=_certain(entry.results[0].predictions, right=True))
    assert reliability(dataclasses.replace(entry, results=[right])).error == pytest.approx(0.0)
    wrong = dataclasses.replace(entry.results[0], predictions=_certain(entry.results[0].predictions, right=False))
    assert reliability(dataclasses.replace(entry, results=[wrong])).error == pytest.approx(1.0)


def _certain(table: pd.DataFrame, right: bool) -> pd.DataFrame:
    """Every track predicted with probability 1: its true genre, or the next genre in order."""
    codes = table["true_genre"].map(GENRES.index)
    predicted = codes if right else (codes + 1) % len(GENRES)
    probabilities = np.eye(len(GENRES))[predicted]
    columns = {f"p_{genre}": probabilities[:, index] for index, genre in enumerate(GENRES)}
    return table.assign(predicted_genre=[GENRES[code] for code in predicted], **columns)


def test_the_most_confident_mistakes_come_first_with_their_pictures(report, crossval, comparison, tmp_path):
    (group,) = groups_of(read_sources([crossval.directory]))
    mistakes = confident_mistakes(group.entries[0])
    assert len(mistakes) and (mistakes["true genre"] != mistakes["predicted"]).all() and len(mistakes) <= 8
    assert list(mistakes["p(predicted)"]) == sorted(mistakes["p(predicted)"], reverse=True)
    assert (mistakes["p(predicted)"] >= mistakes["p(true)"]).all()
    page = report.html.read_text()
    # A section for each group whose best model made mistakes, with pictures: the dataset is still there.
    assert page.count('<div class="gallery thumbnails">') == page.count("Most confidently wrong: ") >= 1
    track = mistakes.index[0]
    assert f'alt="{track}: {mistakes.iloc[0]["true genre"]}, predicted' in page
    moved = Path(shutil.copytree(comparison.directory / "mlp", tmp_path / "run"))
    record = json.loads((moved / "run.json").read_text())
    record["dataset"]["root"] = str(tmp_path / "gone")
    (moved / "run.json").write_text(json.dumps(record))
    elsewhere = write_report([moved], tmp_path / "out").markdown.read_text()
    assert f"Their pictures are not shown: no dataset at {tmp_path / 'gone'}" in elsewhere


def test_every_model_of_the_package_and_one_of_a_users_own_get_colours_of_their_own():
    models = ["fused", "cnn", "mlp", "musicnn", "svm", "xgboost", "stack", "logreg", "forest"]
    entries = [SimpleNamespace(label=name, model=name) for name in models]
    colors = entry_colors(entries)
    assert len(set(colors.values())) == len(models)
