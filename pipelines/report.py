"""Gather run folders and tuning studies into one self-contained HTML report and its Markdown twin.

The same as `multimodal-genre report`; `--help` lists the options (e.g. `reports/runs/<run> --screenshot`).
"""

import sys

from multimodal_genre.cli import main

if __name__ == "__main__":
    sys.exit(main(["report", *sys.argv[1:]]))
