"""The train, compare and predict commands, end to end on synthetic data with the small test models."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from multimodal_genre.cli import main
from multimodal_genre.config import load_config
from multimodal_genre.views import sources_as

from conftest import FAST_CONFIG, one_error, unfolded

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def trained_mlp(tmp_path_factory, synthetic_root):
    out = tmp_path_factory.mktemp("cli") / "mlp-run"
    code = main(
        ["train", "--model", "mlp", "--data", str(synthetic_root), "--config", str(FAST_CONFIG), "--out", str(out)]
    )
    assert code == 0
    return out


def test_train_writes_a_model_run_folder(trained_mlp):
    assert {"model.keras", "metrics.json", "predictions.csv", "run.json"} <= {p.name for p in trained_mlp.iterdir()}


def test_predict_prints_a_table_within_80_columns_and_the_accuracy_apart_for_tracks_the_model_saw(
    trained_mlp, synthetic_root, capsys
):
    saved = pd.read_csv(trained_mlp / "predictions.csv")  # test tracks: never seen
    split = pd.read_csv(trained_mlp / "split.csv")
    trained = split.loc[split["side"] == "train", "track"].tolist()[:3]
    tracks = [*saved["track"][:2], *trained]
    assert main(["predict", str(trained_mlp), "--data", str(synthetic_root), "--tracks", *tracks]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines[0].split() == ["track", "genre", "predicted", "p", "runner-up", "seen"]
    assert [line.split()[0] for line in lines[1:6]] == tracks
    assert [line.split()[-1] for line in lines[1:6]] == ["no", "no", "yes", "yes", "yes"]
    assert lines[1].split()[2] == saved["predicted_genre"][0]
    unseen = (saved["true_genre"][:2] == saved["predicted_genre"][:2]).mean()
    assert f"Accuracy on the 2 tracks of known genre this model never saw: {unseen:.3f}" in captured.out
    assert captured.out.count("Accuracy") == 1  # the tracks it saw are in no accuracy, only counted apart
    warning = f"3 of these tracks the model trained on or watched ({', '.join(trained)}): left out of the accuracy"
    assert warning in unfolded(captured.err)
    assert max(len(line) for line in lines) <= 80
    assert "trained on synthetic data, not music" in unfolded(captured.err)


def test_predict_knows_an_audio_files_track_by_its_name_and_leaves_seen_ones_out_of_the_accuracy(
    trained_mlp, tmp_path, capsys
):
    """``blues.00000.wav`` is the dataset's track blues.00000: where the run trained on it, its file
    is marked seen and counted apart, as with --data."""
    import soundfile

    from conftest import tone

    split = pd.read_csv(trained_mlp / "split.csv")
    trained = split.loc[split["side"] == "train", "track"].iloc[0]
    tested = split.loc[split["side"] == "test", "track"].iloc[0]
    deep = tmp_path / "a-folder-with-a-long-name" / "and-another-one-as-long-as-it" / "genres_original"
    deep.mkdir(parents=True)
    files = [deep / f"{trained}.wav", deep / f"{tested}.wav"]
    for seed, path in enumerate(files):
        soundfile.write(path, tone(seconds=30.0, seed=seed), 22050)
    assert main(["predict", str(trained_mlp), *map(str, files)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert max(map(len, lines)) <= 80  # the long paths cut from the left, their file names whole
    assert lines[0].startswith("...") and f"/{trained}.wav: " in lines[0]
    table = captured.out[captured.out.index("file ") :].splitlines()
    assert table[1].split()[0].endswith(f"/{trained}.wav")
    assert table[0].split()[-1] == "seen" and [line.split()[-1] for line in table[1:3]] == ["yes", "no"]
    assert "Accuracy on the 1 tracks of known genre this model never saw" in captured.out
    assert f"1 of these tracks the model trained on or watched ({trained}.wav)" in unfolded(captured.err)


def test_predict_prints_csv_when_asked(trained_mlp, synthetic_root, capsys):
    tracks = ["disco.00003", "rock.00007"]
    args = ["--data", str(synthetic_root), "--tracks", *tracks, "--format", "csv"]
    assert main(["predict", str(trained_mlp), *args]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("track,true_genre,predicted_genre,seen,p_blues,")
    assert [line.split(",")[0] for line in lines[1:]] == tracks


def test_predict_writes_a_csv_file(trained_mlp, synthetic_root, tmp_path, capsys):
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(trained_mlp), "--data", str(synthetic_root), "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == 10 * 16 - 1
    assert "Wrote 159 predictions" in capsys.readouterr().out


def test_compare_writes_the_comparison_and_prints_it(synthetic_root, tmp_path, capsys):
    out = tmp_path / "compare"
    args = ["compare", "--models", "mlp", "xgboost", "--data", str(synthetic_root), "--config", str(FAST_CONFIG)]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mlp      hold-out split: macro-F1" in printed and "Test macro-F1 (hold-out split), best first:" in printed
    scores = pd.read_csv(out / "comparison.csv", index_col="model")["macro_f1"]
    ranked = [line.split()[0] for line in printed[printed.index("best first:") :].splitlines()[1:3]]
    assert ranked == list(scores.sort_values(ascending=False).index)
    assert "](" not in printed and printed.count("Wall time") == 1  # no Markdown, the time said once
    assert max(len(line) for line in printed.splitlines() if str(tmp_path) not in line) <= 80
    assert (out / "comparison.md").is_file() and (out / "xgboost" / "model.json").is_file()
    assert main([*args, "--out", str(out), "--resume"]) == 0  # both runs finished: nothing to train
    assert capsys.readouterr().out.count("took back the finished run") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "--folds", "1"], "--folds must be at least 2, got 1"),
        (["compare", "--resume"], "--resume: no --out given: name the folder of the comparison to go on with"),
        (["predict", "nowhere"], "nowhere: no such run folder"),
    ],
)
def test_bad_arguments_are_one_line_errors(args, message, capsys, synthetic_root):
    assert main([*args, "--data", str(synthetic_root)]) == 2
    assert message in one_error(capsys.readouterr().err)


def test_existing_results_are_never_overwritten(synthetic_root, tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.md").write_text("earlier results")
    assert main(["train", "--model", "xgboost", "--data", str(synthetic_root), "--out", str(out)]) == 2
    assert "exists and is not an empty folder" in one_error(capsys.readouterr().err)
    assert [path.name for path in out.iterdir()] == ["notes.md"]


def test_predict_refuses_a_comparison_folder(synthetic_root, tmp_path, capsys):
    out = tmp_path / "compare"
    main(
        [
            "compare",
            "--models",
            "xgboost",
            "--data",
            str(synthetic_root),
            "--config",
            str(FAST_CONFIG),
            "--out",
            str(out),
        ]
    )
    capsys.readouterr()
    assert main(["predict", str(out), "--data", str(synthetic_root)]) == 2
    assert "its model runs are in: xgboost" in capsys.readouterr().err


@pytest.mark.parametrize("script", ["train_fused.py", "compare.py"])
def test_pipeline_scripts_have_help(script):
    result = subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "--data" in result.stdout and "--config" in result.stdout


def test_without_a_dataset_the_demo_runs_with_the_quick_settings(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GTZAN_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--models", "xgboost", "--out", "demo"]) == 0
    printed = capsys.readouterr().out
    assert "Using the SYNTHETIC demo dataset in data/synthetic" in printed
    assert "Quick demo settings (demo.yaml)" in printed
    # A run records its config with musicnn's source resolved: the demo dataset has no audio.
    assert load_config(tmp_path / "demo" / "config.yaml") == sources_as(load_config(FAST_CONFIG), "picture")
    # A config of one's own still applies to the demo dataset.
    assert (
        main(["compare", "--models", "xgboost", "--config", str(ROOT / "configs" / "default.yaml"), "--out", "own"])
        == 0
    )
    assert load_config(tmp_path / "own" / "config.yaml") == sources_as(load_config(), "picture")


@pytest.mark.parametrize(
    "script", sorted(path.name for path in (ROOT / "benchmarks").glob("*.py") if path.stem != "common")
)
def test_benchmark_scripts_import_and_have_help(script):
    """A benchmark is run by hand, rarely: an import it lost is caught here, not at its next run."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
