"""Print what a GTZAN dataset folder holds: tracks per genre, dropped rows, duplicate groups, load time.

The same as `multimodal-genre data summary`; `--help` lists the options.
"""

import sys

from multimodal_genre.cli import main

if __name__ == "__main__":
    sys.exit(main(["data", "summary", *sys.argv[1:]]))
