"""The Keras networks' family: fused, cnn, mlp and musicnn are four of it, told apart by their views.

Every network is an image branch, a tabular branch, a pre-trained music branch or several, into one
head (``settings.py`` describes them, ``build.py`` builds them from ``layers.py`` and
``backbones.py``, ``fitting.py`` fits them, ``family.py`` is the family). Keras, and TensorFlow
behind it, is imported where a network is first trained, loaded or pruned, not when the family is:
reading a config must stay quick for the commands that train nothing.
"""

from multimodal_genre.families.registry import declare

declare("fused", "cnn", "mlp", "musicnn", module=f"{__name__}.family")
