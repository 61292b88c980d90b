"""The benchmarks' shared tools: the provenance every JSON carries, and the check that runs a JSON's
recorded command again and sets each figure beside the one recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import provenance  # noqa: E402


def test_a_benchmark_records_its_date_commit_processor_and_command():
    record = provenance()
    assert {"date", "commit", "processor", "command"} <= set(record) and record["command"].startswith("python ")
    assert record["processor"] and len(record["commit"].split("-")[0]) == 7


def test_check_runs_the_recorded_command_again_and_sets_each_figure_beside_its_record(tmp_path):
    script = tmp_path / "halves.py"
    script.write_text(
        "import argparse, json, pathlib\n"
        "parser = argparse.ArgumentParser()\n"
        "parser.add_argument('--out', type=pathlib.Path, required=True)\n"
        "parser.add_argument('--scale', type=float, default=1.0)\n"
        "args = parser.parse_args()\n"
        "found = {'command': 'x', 'half': 0.5 * args.scale, 'seeds': [1, 2]}\n"
        "(args.out / 'halves.json').write_text(json.dumps(found))\n"
    )
    recorded = tmp_path / "halves.json"
    recorded.write_text(json.dumps({"command": f"python {script}", "half": 0.5, "seeds": [1, 2], "gone": 0.25}))
    arguments = [sys.executable, str(ROOT / "benchmarks" / "check.py"), str(recorded), "--", "--scale", "1.1"]
    printed = subprocess.run(arguments, capture_output=True, text=True, check=True).stdout
    rows = {line.split()[0]: line.split()[1:] for line in printed.splitlines()[2:] if line.strip()}
    assert rows["half"] == ["0.5000", "0.5500", "+0.0500"] and rows["seeds[1]"] == ["2.0000", "2.0000", "+0.0000"]
    assert rows["gone"] == ["0.2500", "not", "run"]
    assert json.loads(recorded.read_text())["half"] == 0.5  # the committed record is left as it was
