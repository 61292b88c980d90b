"""Music genre classification that fuses tabular audio features with mel-spectrogram images.

Words used with one meaning each, everywhere in the package:

- **split**: one partition of the dataset's tracks into a training side, a validation side (which
  early stopping watches; it may be empty) and a test side (``data.Split``): the hold-out split, or
  one of the K of grouped K-fold. Every split keeps each group of duplicate tracks on one side.
- **fold**: one of the K parts of a grouped stratified partition. An *outer* fold is the test side of
  one split of ``compare --folds`` or ``tune --outer-folds``; an *inner* fold is a part of a split's
  training pool (training + validation sides), which a fold-bagged member holds out or a study's
  trial validates on.
- **member**: one of the models another model combines: the K models a bag averages
  (``families/bag.py``), or a model a stack weights (``families/stack/``).
- **kept**: of a training, the 1-based step (epoch, boosting round) whose weights it keeps: early
  stopping's best, or the last where there is nothing to stop on. A bag has none of its own; each
  of its members has one.
- **seen**: the tracks a trained model trained on or its early stopping watched (``seen.py``). No
  model is scored on tracks it has seen.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("multimodal-genre")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
