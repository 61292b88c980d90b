"""What pip would install, asked with ``pip install --dry-run --report`` in fresh virtual environments:
the CPU extra on a machine without a GPU, and the bare package where GPU TensorFlow and XGBoost are
installed already (a GPU notebook), which must keep them. No GPU is needed to see what pip resolves."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CUDA_LIBRARIES = "nvidia-"
TIMEOUT = 600


def new_environment(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=TIMEOUT)
    return folder / "bin" / "python"


def pip(python: Path, *arguments: str) -> None:
    command = [str(python), "-m", "pip", *arguments, "--quiet", "--disable-pip-version-check"]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr


def would_install(python: Path, requirement: str, report: Path) -> dict[str, str]:
    """Name (normalised) -> version of every distribution pip would install for ``requirement``; its
    report is kept at ``report``."""
    pip(python, "install", "--dry-run", "--report", str(report), requirement)
    installs = json.loads(report.read_text())["install"]
    return {re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower(): item["metadata"]["version"] for item in installs}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the reports are kept: ``MULTIMODAL_GENRE_INSTALL_REPORTS`` if set (to read them after),
    else a temporary folder."""
    named = os.environ.get("MULTIMODAL_GENRE_INSTALL_REPORTS")
    folder = Path(named) if named else tmp_path_factory.mktemp("reports")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.skipif(sys.platform != "linux", reason="the CPU and CUDA builds differ by name on Linux")
def test_the_cpu_extra_installs_the_cpu_builds_and_no_cuda(tmp_path, reports):
    python = new_environment(tmp_path / "venv")
    wanted = would_install(python, f"{ROOT}[cpu]", reports / "cpu.json")
    assert {"multimodal-genre", "keras", "tensorflow-cpu", "xgboost-cpu", "optuna"} <= set(wanted)
    assert "tensorflow" not in wanted and "xgboost" not in wanted
    assert not [name for name in wanted if name.startswith(CUDA_LIBRARIES)]


@pytest.mark.skipif(sys.platform != "linux", reason="the CPU and CUDA builds differ by name on Linux")
def test_an_environment_with_gpu_tensorflow_and_xgboost_keeps_them(tmp_path, reports):
    python = new_environment(tmp_path / "venv")
    # GPU TensorFlow and XGBoost as a notebook has them; their own dependencies do not change what pip
    # resolves for this package, so they are left out to spare the download.
    pip(
        python, "install", "--no-deps", f"tensorflow=={version('tensorflow-cpu')}", f"xgboost=={version('xgboost-cpu')}"
    )
    wanted = would_install(python, str(ROOT), reports / "gpu-notebook.json")
    assert {"multimodal-genre", "keras", "optuna"} <= set(wanted)
    assert not [name for name in wanted if name.startswith(("tensorflow", "xgboost", CUDA_LIBRARIES))]
