"""The support vector machine's family: an RBF SVM on the feature row and a pre-trained music view.

``settings.py`` describes it, ``kernel.py`` fits it. A saved machine is its training rows (already
standardised and weighted), their genres, its settings and its probabilities' inverse temperature, in
NumPy's and JSON's formats: scikit-learn has no format that runs no code when read (pickle runs code),
and one SVC's fit is deterministic and takes a second, so loading fits the same SVC again (a machine
saved without its temperature is calibrated again too).
"""

from multimodal_genre.families.registry import declare

declare("svm", module=f"{__name__}.family")
