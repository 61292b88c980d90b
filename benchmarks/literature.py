"""Our figures beside the literature's: reports/benchmarks/literature.md, rendered from the published
figures (published.json, each with its citation) and this package's own benchmarks (defaults.json,
tuning.json), so that no figure in it is typed by hand:

    python benchmarks/literature.py
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from common import read_json

INTRO = """\
<!-- figures: published.json, defaults.json, tuning.json -->
# Our figures beside the literature's

Two protocols. **Grouped 5-fold** is this package's own: stratified folds that keep each group of
byte-identical duplicates on one side, macro-F1 mean ± standard deviation over the folds. **Fault-filtered**
is the field's: the artist-filtered split of Kereliuk, Sturm and Larsen (2015), no artist on two
sides; papers report test accuracy on it. It is for reporting only: no setting is chosen on its test list.

The Million Song Dataset, on which musicnn's `msd` weights were trained, may hold some of the songs
that GTZAN's clips were cut from. A pre-trained model's figure on GTZAN may therefore include songs
it has heard in pre-training; the same holds for the published systems below.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks"))
    args = parser.parse_args()
    published, defaults, tuning = (
        read_json(args.out / name) for name in ("published.json", "defaults.json", "tuning.json")
    )
    lines = [INTRO, "## Published figures", "", "| system | protocol | figure | source |", "|---|---|---|---|"]
    lines += [f"| {f['system']} | {f['protocol']} | {f['value']:.3f} | {f['citation']} |" for f in published["figures"]]
    lines += ["", published["what"], ""]
    if defaults:
        lines += _ours(defaults, tuning)
    (args.out / "literature.md").write_text("\n".join(lines) + "\n")
    print((args.out / "literature.md").read_text())


def _ours(defaults: dict[str, Any], tuning: dict[str, Any]) -> list[str]:
    seeds = defaults["seeds"]
    lines = [
        "## Ours, grouped 5-fold (macro-F1)",
        "",
        f"From `defaults.json` (`{defaults['command']}`, commit {defaults['commit']}); seed 11 is the one no",
        "setting was ever chosen on.",
        "",
        "| model | " + " | ".join(f"seed {seed}" for seed in seeds) + " |",
        "|---" * (len(seeds) + 1) + "|",
    ]
    for model in next(iter(seeds.values()))["models"]:
        cells = [f"{seeds[s]['models'][model]['mean']:.3f} ± {seeds[s]['models'][model]['std']:.3f}" for s in seeds]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    listed = defaults["fault-filtered"]["models"]
    lines += [
        "",
        f"## Ours, fault-filtered (test list of {next(iter(listed.values()))['test_tracks']} tracks)",
        "",
        "The default settings, trained on the training list (and the validation list, where the model stops",
        "early on nothing), tested once on the test list:",
        "",
        "| model | test accuracy | test macro-F1 | macro-F1 95% interval |",
        "|---|---|---|---|",
        *(
            f"| {model} | {found['accuracy']:.3f} | {found['macro_f1']:.3f} | {found['macro_f1_interval'][0]:.3f} "
            f"to {found['macro_f1_interval'][1]:.3f} |"
            for model, found in listed.items()
        ),
    ]
    study = tuning.get("entries", {}).get("svm/fault-filtered")
    if study:
        (row,) = study["rows"]
        budget = study["budget"]
        kept = "took its winner" if row["kept"] == "winner" else "kept the configured settings"
        lines += [
            "",
            f"A study of the SVM on the training and validation lists ({budget['trials']} trials, "
            f"{budget['inner_folds']} inner folds; `tuning.json`) {kept}: test macro-F1 {row['tuned_macro_f1']:.3f},",
            f"against {row['untuned_macro_f1']:.3f} for the configured settings re-trained alike and "
            f"{row['winner_macro_f1']:.3f} for the winner.",
        ]
    return lines


if __name__ == "__main__":
    main()
