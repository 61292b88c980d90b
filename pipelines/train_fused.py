"""Train the fused model (CNN + MLP branches) on the grouped hold-out split and write its run folder.

The same as `multimodal-genre train --model fused`; `--help` lists the options.
"""

import sys

from multimodal_genre.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "--model", "fused", *sys.argv[1:]]))
