"""The stack's family: a weighted average of other models' probabilities.

Its base models are fold bags of any family; its fit is greedy selection (``selection.py``) on their
out-of-fold predictions of the training rows, and it predicts a new track through them
(``stacking.py`` trains them and hands their predictions over). Its run folder holds the weights
(``stack.json``) and each base model of some weight (``bases/<name>/``).
"""

from multimodal_genre.families.registry import declare

declare("stack", module=f"{__name__}.family")
