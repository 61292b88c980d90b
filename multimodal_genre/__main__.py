"""``python -m multimodal_genre`` runs the command line."""

import sys

from multimodal_genre.cli import main

sys.exit(main())
