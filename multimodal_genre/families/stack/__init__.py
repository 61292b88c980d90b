"""The stack's family: a weighted average of other models' probabilities.

A stack trains nothing of its own. ``compare`` builds it in each fold from the runs of its members,
fold-bagged models that sit beside it in the same folder, with weights chosen by greedy selection
(``selection.py``) on the members' out-of-fold predictions of the training rows; its run folder holds
the weights (``stack.json``), and loading it loads the members from their run folders next to it.
"""

from multimodal_genre.families.registry import declare

declare("stack", module=f"{__name__}.family")
