import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from multimodal_genre.cli import main
from multimodal_genre.data.layout import FEATURES_CSV

from conftest import TRACKS_PER_GENRE, messages, one_error, unfolded

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_gtzan_env(monkeypatch):
    monkeypatch.delenv("GTZAN_DIR", raising=False)


def summary(capsys, *args):
    code = main(["data", "summary", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_summary_reports_tracks_drops_duplicates_size_and_time(synthetic_root, capsys):
    code, out, err = summary(capsys, "--data", str(synthetic_root))
    assert code == 0
    n = 10 * TRACKS_PER_GENRE
    assert out.startswith("SYNTHETIC DATA")
    assert f"Tracks       {n - 1} of {n} CSV rows, 10 genres, 57 features" in out
    assert f"Dropped      1 (CSV rows without an image): jazz.{TRACKS_PER_GENRE // 2:05d}.wav" in out
    assert f"Duplicates   3 groups of identical tracks ({n - 4} distinct groups over {n - 1} tracks)" in out
    assert "metal.00001 = rock.00001" in out
    assert "Images 432x288 PNG -> 64x99x1 float32 in [0, 1] (crop rows 35-252, cols 54-389)" in unfolded(out)
    assert "Load time" in out and "(image cache: miss)" in out
    assert f"  jazz       {TRACKS_PER_GENRE - 1:>5}" in out and f"  rock       {TRACKS_PER_GENRE:>5}" in out
    assert "warning" not in err  # the dropped row is said once, in the summary


def test_second_summary_uses_the_cache(synthetic_root, capsys):
    summary(capsys, "--data", str(synthetic_root))
    assert "(image cache: hit)" in summary(capsys, "--data", str(synthetic_root))[1]


def test_config_file_changes_the_reported_input_size(synthetic_root, tmp_path, capsys):
    settings = tmp_path / "small.yaml"
    settings.write_text("data:\n  image:\n    height: 64\n    color: grayscale\n")
    out = summary(capsys, "--data", str(synthetic_root), "--config", str(settings))[1]
    assert "-> 64x99x1 float32" in out


def test_gtzan_dir_is_used_when_data_is_not_given(synthetic_root, monkeypatch, capsys):
    monkeypatch.setenv("GTZAN_DIR", str(synthetic_root))
    code, out, _ = summary(capsys)
    assert code == 0 and f"Dataset      {synthetic_root}" in out


def test_data_option_wins_over_gtzan_dir(synthetic_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GTZAN_DIR", str(tmp_path / "elsewhere"))
    code, out, _ = summary(capsys, "--data", str(synthetic_root))
    assert code == 0 and f"Dataset      {synthetic_root}" in out


def test_missing_gtzan_dir_is_an_error_not_a_fallback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GTZAN_DIR", str(tmp_path / "elsewhere"))
    code, out, err = summary(capsys)
    assert code == 2 and out == ""
    assert "elsewhere (from GTZAN_DIR): no such dataset folder" in one_error(err)


def test_data_gtzan_in_the_working_directory_is_the_default(
    synthetic_root, tmp_path, monkeypatch, capsys, no_gtzan_env
):
    shutil.copytree(synthetic_root, tmp_path / "data" / "gtzan")
    monkeypatch.chdir(tmp_path)
    code, out, _ = summary(capsys)
    assert code == 0 and "Dataset      data/gtzan" in out


def test_without_any_dataset_it_says_where_it_looked_and_runs_on_synthetic_data(
    tmp_path, monkeypatch, capsys, no_gtzan_env
):
    monkeypatch.chdir(tmp_path)
    code, out, _ = summary(capsys)
    assert code == 0
    assert "No GTZAN dataset found: --data not given, GTZAN_DIR not set, data/gtzan does not exist." in unfolded(out)
    assert "GTZAN Dataset - Music Genre Classification" in out
    assert "Using the SYNTHETIC demo dataset in data/synthetic" in out
    assert (tmp_path / "data" / "synthetic" / FEATURES_CSV).is_file()
    assert "Tracks       299 of 300 CSV rows" in out


def test_synth_command_writes_a_loadable_dataset(tmp_path, capsys):
    assert main(["data", "synth", "--out", str(tmp_path / "demo"), "--tracks-per-genre", "5", "--seed", "1"]) == 0
    assert "tracks per genre" in capsys.readouterr().out
    code, out, _ = summary(capsys, "--data", str(tmp_path / "demo"))
    assert code == 0 and "Tracks       49 of 50 CSV rows" in out


def test_synth_command_refuses_to_overwrite_other_data(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["data", "synth", "--out", str(tmp_path / "mine")]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "multimodal_genre", "data", "summary", "--help"],
        [sys.executable, str(ROOT / "pipelines" / "data_summary.py"), "--help"],
    ],
    ids=["module", "pipeline script"],
)
def test_entry_points_show_help(command):
    result = subprocess.run(command, capture_output=True, text=True, check=False, env={**os.environ}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--data" in result.stdout and "--config" in result.stdout


def test_console_script_is_installed():
    script = shutil.which("multimodal-genre", path=str(Path(sys.executable).parent))
    assert script is not None, "the multimodal-genre console script is not installed next to this Python"
    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("multimodal-genre ")


def test_a_training_command_prints_only_its_own_lines_and_says_what_it_trains_on(synthetic_root, tmp_path):
    """TensorFlow's start-up lines and retracing warnings are dropped; the first line names the device and backend."""
    command = [sys.executable, "-m", "multimodal_genre", "compare", "--folds", "2", "--models", "mlp", "xgboost"]
    command += [
        "--data",
        str(synthetic_root),
        "--config",
        str(ROOT / "configs" / "demo.yaml"),
        "--out",
        str(tmp_path / "compare"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    assert messages(result.stderr) == [
        f"multimodal-genre: warning: {synthetic_root / 'images_original'}: no image for 1 CSV row, left out: "
        f"jazz.{TRACKS_PER_GENRE // 2:05d}.wav"
    ]
    assert result.stdout.startswith("Training on this process, ")
    assert "networks on cpu:0 (Keras 3." in unfolded("\n".join(result.stdout.splitlines()[:2]))
    assert max(len(line) for line in result.stdout.splitlines() if str(tmp_path) not in line) <= 80
    assert "retracing" not in result.stdout
    finished = [line for line in result.stdout.splitlines() if " done: " in line]  # a log: a line per training
    assert len(finished) == 4 and finished[-1].split(" done: ")[1].startswith("4/4 trainings")


def test_commands_that_train_nothing_do_not_load_tensorflow(synthetic_root, tmp_path):
    script = (
        "import sys; from multimodal_genre.cli import main; "
        f"main(['data', 'summary', '--data', {str(synthetic_root)!r}]); "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.splitlines()[-1] == "False False"


HEAVY = ("tensorflow", "keras", "xgboost", "sklearn", "pandas", "scipy", "matplotlib", "optuna")


def _imported_by(*argv: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run the command line in a fresh interpreter; which heavy libraries it had imported when it ended."""
    script = (
        "import json, sys\nfrom multimodal_genre.cli import main\n"
        "try:\n    code = main(sys.argv[1:])\nexcept SystemExit as stop:\n    code = stop.code\n"
        f"print(json.dumps(sorted({{name.split('.')[0] for name in sys.modules}} & set({HEAVY!r}))), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=120)
    *_, modules = result.stderr.strip().splitlines()
    return result, set(json.loads(modules))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--help"], None),
        (["compare", "--models", "fsued", "mlp"], "--models 'fsued': no such model; did you mean 'fused'?"),
        (["tune", "--model", "xgbost", "--trials", "1"], "--model 'xgbost': no such model; did you mean 'xgboost'?"),
        (["predict", "no-such-run"], "no-such-run: no such run folder"),
        (["predict", ".", "no-such-song.mp3"], "no-such-song.mp3: no such audio file"),
    ],
)
def test_help_and_argument_errors_answer_before_any_heavy_library_loads(argv, message):
    result, imported = _imported_by(*argv)
    assert imported == set(), f"imported {sorted(imported)} before answering"
    if message is None:
        assert result.returncode == 0 and "compare" in result.stdout
    else:
        error = one_error(result.stderr)
        assert result.returncode == 2 and error.startswith("multimodal-genre: error: ") and message in error
        assert "usage:" not in result.stderr  # one line, no usage block


def test_a_data_folder_whose_child_holds_the_dataset_is_pointed_to(synthetic_root, capsys):
    assert main(["compare", "--models", "xgboost", "--data", str(synthetic_root.parent)]) == 2
    error = one_error(capsys.readouterr().err)
    assert error.endswith(f"did you mean {synthetic_root}, which holds the dataset?")


def test_a_config_error_comes_before_the_demo_banner(tmp_path, monkeypatch, capsys, no_gtzan_env):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("models: {mlp: {head: {dropout: 2}}}\n")
    assert main(["compare", "--models", "mlp", "--config", "bad.yaml"]) == 2
    captured = capsys.readouterr()
    assert "models.mlp.head.dropout" in captured.err and "SYNTHETIC" not in captured.out


def test_help_lists_every_command_with_its_purpose_within_80_columns(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    printed = capsys.readouterr().out
    listed = printed.split("commands (COMMAND --help for its options):\n")[1]
    names = [line.split("  ")[1].strip() for line in listed.splitlines() if line[2] != " "]
    commands = ["data summary", "data synth", "train", "compare", "tune", "predict", "extract", "report", "recipes"]
    assert names == commands and max(map(len, printed.splitlines())) <= 80
    assert printed.startswith("usage: multimodal-genre [-h] [--version] COMMAND ...")


def test_the_demo_is_quiet_and_ends_with_the_command_for_real_data(tmp_path, monkeypatch, capsys, no_gtzan_env):
    """The first screen a newcomer sees: no line per epoch, no warning about the package's own
    synthetic data, and at the end what the figures are and what to run next."""
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--models", "mlp", "xgboost"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) <= 40 and max(map(len, lines)) <= 80 and "epoch 1/" not in captured.out
    assert "warning" not in captured.err
    assert lines[-2] == "These figures are from SYNTHETIC demo data and say nothing about real music."
    assert lines[-1] == "On GTZAN (its Kaggle Data/ folder): multimodal-genre compare --data path/to/Data"
