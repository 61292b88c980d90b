"""Train the fused model and its three baselines on the same split (or K folds) and compare them.

The same as `multimodal-genre compare`; `--help` lists the options (e.g. `--folds 5`).
"""

import sys

from multimodal_genre.cli import main

if __name__ == "__main__":
    sys.exit(main(["compare", *sys.argv[1:]]))
