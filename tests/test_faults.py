"""Faults that long jobs meet (kill -9, Ctrl-C, a full disk, a second writer, damaged files, training
that diverges): each leaves one line and exit status, and nothing that finished is lost."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import keras
import pandas as pd
import pytest
import yaml

from multimodal_genre.cli import main
from multimodal_genre.data.layout import FEATURES_CSV

from conftest import FAST_CONFIG, messages

FINISHED = "run.json"  # a run folder's completion marker, written last
ERROR_130 = "multimodal-genre: interrupted"


@pytest.fixture(scope="module")
def slow_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo settings with a cnn that always trains 60 epochs: long enough to be stopped mid-fold."""
    settings = yaml.safe_load(FAST_CONFIG.read_text())
    settings["models"]["cnn"]["training"].update(early_stopping={"patience": 60})
    path = tmp_path_factory.mktemp("configs") / "slow.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def compare_arguments(root: Path, config: Path, out: Path, *more: str) -> list[str]:
    options = ["--folds", "2", "--models", "xgboost", "cnn", "--data", str(root), "--config", str(config)]
    return ["compare", *options, "--out", str(out), *more]


@contextlib.contextmanager
def started(arguments: list[str], **options) -> Iterator[subprocess.Popen]:
    """The command line in a process of its own, killed if the test ends before it does."""
    command = [sys.executable, "-m", "multimodal_genre", *arguments]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **options) as process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate()


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, f"the command ended before {path} appeared: {process.communicate()}"
        assert time.monotonic() < deadline, f"{path} did not appear in {seconds} s"
        time.sleep(0.05)


def digests(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder``: its SHA-256 and modification time."""
    return {
        str(path.relative_to(folder)): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def one_error_line(stderr: str) -> str:
    """The package's error message, unfolded (warnings aside); the command must print exactly one
    and no traceback."""
    assert "Traceback" not in stderr
    found = [message for message in messages(stderr) if message.startswith(("multimodal-genre: error", ERROR_130))]
    assert len(found) == 1, stderr
    return found[0]


def test_kill_9_in_the_middle_of_a_fold_then_resume_keeps_every_finished_run(synthetic_root, slow_config, tmp_path):
    out = tmp_path / "compare"
    with started(compare_arguments(synthetic_root, slow_config, out)) as process:
        wait_for(out / "fold1" / "xgboost" / FINISHED, process)
        process.kill()  # SIGKILL: no handler runs, whatever was being written stays as it was
    assert not (out / "fold1" / "cnn" / FINISHED).exists()  # stopped while the cnn of fold 1 trained
    finished = {path.parent: digests(path.parent) for path in out.rglob(FINISHED)}
    # What a crash in the middle of writing a run folder would leave: files, but no completion marker.
    half = out / "fold1" / "cnn"
    half.mkdir()
    (half / "history.csv").write_text("epoch,loss\n1,")

    assert main([*compare_arguments(synthetic_root, slow_config, out), "--resume"]) == 0
    for folder, files in finished.items():
        assert digests(folder) == files  # kept untouched, not trained again
    folds = pd.read_csv(out / "folds.csv")
    assert sorted(zip(folds["fold"], folds["model"], strict=True)) == [
        (fold, model) for fold in (1, 2) for model in ("cnn", "xgboost")
    ]
    assert (half / FINISHED).is_file() and pd.read_csv(half / "history.csv")["epoch"].tolist()[0] == 1
    assert not [path for path in out.rglob("*") if path.name.endswith(".partial")]


def test_kill_9_in_a_fold_bag_then_resume_takes_its_finished_members_back(synthetic_root, tmp_path, caplog):
    settings = yaml.safe_load(FAST_CONFIG.read_text())
    settings["models"]["cnn"]["training"].update(epochs=25, early_stopping={"patience": 60})
    settings["models"]["cnn"]["bagging"] = {"members": 3, "subsets": "folds"}
    config = tmp_path / "bag.yaml"
    config.write_text(yaml.safe_dump(settings))
    out = tmp_path / "compare"
    arguments = [
        "compare",
        "--models",
        "cnn",
        "--data",
        str(synthetic_root),
        "--config",
        str(config),
        "--out",
        str(out),
    ]
    checkpoints = out / ".cnn.members"
    with started(arguments) as process:
        wait_for(checkpoints / "member1" / "checkpoint.json", process)
        process.kill()  # while member 2 trains
    first_seconds = json.loads((checkpoints / "member1" / "checkpoint.json").read_text())["seconds"]

    with caplog.at_level("INFO", logger="multimodal_genre"):
        assert main([*arguments, "--resume"]) == 0
    assert "cnn: took member1 back" in caplog.text and "cnn: took member2 back" not in caplog.text
    record = json.loads((out / "cnn" / FINISHED).read_text())
    assert [member["seconds"] for member in record["training"]["members"]][0] == round(first_seconds, 2)
    assert len(record["training"]["members"]) == 3
    assert not checkpoints.exists()  # only until the run folder is written


def test_ctrl_c_stops_with_one_line_and_keeps_what_finished(synthetic_root, slow_config, tmp_path):
    out = tmp_path / "compare"
    # pytest-xdist's workers ignore SIGINT, and an ignored signal stays ignored in their children.
    interruptible = {"preexec_fn": lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)}
    with started(compare_arguments(synthetic_root, slow_config, out, "--jobs", "2"), **interruptible) as process:
        wait_for(out / "fold1" / "xgboost" / FINISHED, process)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert one_error_line(stderr) == f"{ERROR_130}; the runs that finished are saved"
    kept = {path.parent: digests(path.parent) for path in out.rglob(FINISHED)}
    assert kept and main([*compare_arguments(synthetic_root, slow_config, out), "--resume"]) == 0
    assert all(digests(folder) == files for folder, files in kept.items())
    assert len(pd.read_csv(out / "folds.csv")) == 4


@pytest.mark.parametrize("command", ["compare", "compare --resume", "report", "extract"])
def test_a_second_writer_is_refused_with_one_line(command, synthetic_root, comparison, tmp_path, capsys):
    """Another process holds the output folder's lock, as a running command does."""
    out = tmp_path / "busy"
    (out / "fold1").mkdir(parents=True)
    holder = "\n".join(
        [
            "import pathlib, sys, time, multimodal_genre.files as files",
            "with files.writing_into(pathlib.Path(sys.argv[1])): time.sleep(120)",
        ]
    )
    with subprocess.Popen([sys.executable, "-c", holder, str(out)]) as process:
        while not (out / ".lock").exists():
            assert process.poll() is None
            time.sleep(0.05)
        time.sleep(1)  # the lock is taken right after the file is made
        arguments = {
            "compare": ["compare", "--models", "xgboost", "--data", str(synthetic_root), "--out", str(out)],
            "compare --resume": [
                "compare",
                "--models",
                "xgboost",
                "--data",
                str(synthetic_root),
                "--out",
                str(out),
                "--resume",
            ],
            "report": ["report", str(comparison.directory / "mlp"), "--out", str(out)],
            "extract": ["extract", str(tmp_path / "song.wav"), "--out", str(out)],
        }[command]
        try:
            assert main(arguments) == 2
        finally:
            process.kill()
    line = one_error_line(capsys.readouterr().err)
    assert f"{out}: another multimodal-genre process is writing into this folder" in line
    assert sorted(path.name for path in out.iterdir()) == [".lock", "fold1"]  # nothing written


def _file_size_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.skipif(sys.platform == "win32", reason="file-size limits are POSIX")
@pytest.mark.parametrize(("model", "writer"), [("xgboost", "XGBoost could not write the model"), ("mlp", "")])
def test_a_full_disk_is_one_line_and_leaves_no_half_written_run(model, writer, synthetic_root, tmp_path):
    """A file-size limit stands for a full disk: the first file too large fails as a full disk would
    (each family's model is its run's first large file, written by XGBoost's and by Keras' own code)."""
    earlier = tmp_path / "earlier.txt"
    earlier.write_text("written before the run\n")
    out = tmp_path / "run"
    arguments = ["train", "--model", model, "--data", str(synthetic_root), "--config", str(FAST_CONFIG)]
    with started([*arguments, "--out", str(out)], preexec_fn=_file_size_limit(32 * 1024)) as process:
        _, stderr = process.communicate(timeout=240)
    assert process.returncode == 2
    line = one_error_line(stderr)
    assert f"{tmp_path}/.run.partial/model." in line and (writer or "File too large") in line
    assert earlier.read_text() == "written before the run\n"
    assert not list(out.rglob("*"))  # the run folder stays empty: nothing half-written in it
    assert not [path for path in tmp_path.rglob("*") if ".partial" in path.name]


@pytest.mark.parametrize("where", ["file", "under-file"])
def test_an_output_path_that_is_a_file_is_one_line(where, synthetic_root, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    out = blocker if where == "file" else blocker / "compare"
    assert main(["compare", "--models", "xgboost", "--data", str(synthetic_root), "--out", str(out)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(blocker) in line
    assert blocker.read_text() == "not a folder\n"


def read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)


def without_root_override() -> None:
    """For a command run as root, who writes into read-only folders: drop the capabilities that let
    it (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) from its bounding set, so its permission bits hold."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (1, 2):
            if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux capabilities")
@pytest.mark.parametrize("where", ["new folder in a read-only one", "--resume of a read-only comparison"])
def test_a_read_only_output_folder_is_one_line_and_keeps_what_it_holds(where, synthetic_root, tmp_path):
    out = tmp_path / "compare"
    arguments = ["compare", "--folds", "2", "--models", "xgboost", "--data", str(synthetic_root)]
    arguments += ["--config", str(FAST_CONFIG)]
    if where.startswith("--resume"):
        assert main([*arguments, "--out", str(out)]) == 0
        arguments += ["--out", str(out), "--resume"]
        named = out / ".lock"
    else:
        out.mkdir()
        arguments += ["--out", str(out / "new")]
        named = out / "new"
    before = digests(out)
    read_only(out)
    try:
        with started(arguments, preexec_fn=without_root_override) as process:
            _, stderr = process.communicate(timeout=120)
    finally:
        for path in [out, *out.rglob("*")]:
            path.chmod(0o755)
    assert process.returncode == 2
    assert f"{named}: Permission denied" in one_error_line(stderr)
    assert digests(out) == before


def test_training_that_diverges_fails_alone(synthetic_root, tmp_path, capsys):
    settings = yaml.safe_load(FAST_CONFIG.read_text())
    settings["models"]["mlp"]["training"]["learning_rate"] = 10_000.0
    config = tmp_path / "diverging.yaml"
    config.write_text(yaml.safe_dump(settings))
    out = tmp_path / "compare"
    options = ["--folds", "2", "--models", "mlp", "xgboost", "--data", str(synthetic_root), "--config", str(config)]
    assert main(["compare", *options, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert "mlp, fold 1/2: mlp diverged at epoch" in line and "lower training.learning_rate than 10000" in line
    assert "1 more" in line  # fold 2 diverged too
    assert not list(out.glob("fold*/mlp"))  # nothing of it written as a finished run
    assert all((out / f"fold{fold}" / "xgboost" / FINISHED).is_file() for fold in (1, 2))
    assert pd.read_csv(out / "folds.csv")["model"].tolist() == ["xgboost", "xgboost"]
    summary = (out / "comparison.md").read_text()
    assert "## Failed trainings" in summary and "mlp, fold 2/2: mlp diverged" in summary


@pytest.fixture
def run_copy(comparison, tmp_path):
    """A copy of a finished run folder to damage, and the dataset it was trained on."""

    def copy(name: str) -> Path:
        folder = tmp_path / name
        subprocess.run(["cp", "-r", str(comparison.directory / name), str(folder)], check=True)
        return folder

    return copy


def predict_error(folder: Path, synthetic_root: Path, capsys) -> str:
    assert main(["predict", str(folder), "--data", str(synthetic_root), "--tracks", "blues.00000"]) == 2
    return one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("damage", ["truncated", "bit-flipped", "text"])
def test_a_damaged_saved_network_is_one_line_naming_it(damage, run_copy, synthetic_root, capsys):
    folder = run_copy("mlp")
    model = folder / "model.keras"
    content = bytearray(model.read_bytes())
    if damage == "truncated":
        content = content[: len(content) // 2]
    elif damage == "bit-flipped":
        content[len(content) // 2] ^= 0xFF
    else:
        content = bytearray(b"not a model")
    model.write_bytes(bytes(content))
    line = predict_error(folder, synthetic_root, capsys)
    assert f"{model}: damaged or not a network this package saved" in line


def test_a_damaged_xgboost_model_is_one_line_naming_it(run_copy, synthetic_root, capsys):
    folder = run_copy("xgboost")
    model = folder / "model.json"
    model.write_text(model.read_text()[:500])
    assert f"{model}: damaged or not a model this package saved" in predict_error(folder, synthetic_root, capsys)


def test_a_saved_network_holding_code_is_refused(run_copy, synthetic_root, capsys, tmp_path):
    """Keras' safe mode stays on: a Lambda layer's code is never run, and the line says how to opt in."""
    folder = run_copy("mlp")
    marker = tmp_path / "the-lambda-ran"
    features = keras.Input((len(pd.read_csv(synthetic_root / FEATURES_CSV).columns) - 3,), name="features")
    hostile = keras.layers.Lambda(lambda x, path=str(marker): (__import__("pathlib").Path(path).touch(), x)[1])(
        features
    )
    keras.Model(features, keras.layers.Dense(10, activation="softmax")(hostile)).save(folder / "model.keras")
    marker.unlink()  # building the model ran the function once, here
    line = predict_error(folder, synthetic_root, capsys)
    assert "holds Python code (a Lambda layer)" in line and "safe_mode=False" in line
    assert not marker.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda record: record.pop("model"), "model"),
        (lambda record: record.update(training="fast"), "training"),
        (lambda record: record.update(format=99), "run format 99"),
    ],
)
def test_a_damaged_or_future_run_record_is_one_line_naming_it(change, message, run_copy, synthetic_root, capsys):
    import json

    folder = run_copy("mlp")
    record = json.loads((folder / FINISHED).read_text())
    change(record)
    (folder / FINISHED).write_text(json.dumps(record))
    line = predict_error(folder, synthetic_root, capsys)
    assert str(folder / FINISHED) in line and message in line
    assert main(["report", str(folder), "--out", str(folder.parent / "report")]) == 2
    assert str(folder / FINISHED) in one_error_line(capsys.readouterr().err)


def test_resume_over_a_damaged_run_record_is_one_line(synthetic_root, tmp_path, capsys):
    out = tmp_path / "compare"
    options = ["--folds", "2", "--models", "xgboost", "--data", str(synthetic_root), "--config", str(FAST_CONFIG)]
    assert main(["compare", *options, "--out", str(out)]) == 0
    record = out / "fold1" / "xgboost" / FINISHED
    record.write_text(record.read_text()[:40])
    capsys.readouterr()
    assert main(["compare", *options, "--out", str(out), "--resume"]) == 2
    assert f"{record}: unreadable" in one_error_line(capsys.readouterr().err)
    assert os.path.getsize(record) == 40  # refused, not overwritten


def test_a_hostile_run_folder_name_is_escaped_in_the_report(run_copy, tmp_path):
    """A folder named like markup shows as text in the page, never as a tag."""
    hostile = "<img src=x onerror=alert(1)>"
    folder = run_copy("mlp").rename(tmp_path / hostile)
    assert main(["report", str(folder), "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "report.html").read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and hostile not in page
    assert sorted(path.name for path in (tmp_path / "report").iterdir()) == [  # no lock file left behind
        "figures",
        "report.html",
        "report.md",
    ]
