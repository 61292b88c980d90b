"""XGBoost's family: gradient-boosted trees on the raw feature row.

``settings.py`` describes the trees, ``boosting.py`` builds and fits them; XGBoost is imported
there, when a model is first trained, loaded or pruned, not when a config is read.
"""

from multimodal_genre.families.registry import declare

declare("xgboost", module=f"{__name__}.family")
