"""Tune a model (or all four) with Optuna, then re-train the best settings and test them once.

The same as `multimodal-genre tune`; `--help` lists the options (e.g. `--model fused --trials 30`).
"""

import sys

from multimodal_genre.cli import main

if __name__ == "__main__":
    sys.exit(main(["tune", *sys.argv[1:]]))
