"""The pre-trained views of the tracks that models read (``Tracks.embeddings``), added to a dataset
before they train or predict.

A model's family says which views its settings read; a stack reads what its members read. Each
view is computed once per dataset (and kept in the on-disk cache, ``musicnn/embeddings.py``), so a
comparison's folds, a study's trials and a bag's members share it, and workers receive it with the
dataset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from multimodal_genre.config import Config
from multimodal_genre.data import GenreDataset
from multimodal_genre.families import family
from multimodal_genre.musicnn import Embedding


def needed_views(config: Config, models: Iterable[str]) -> list[Embedding]:
    """Every pre-trained view ``models`` (and the members of a stack among them) read, each once."""
    found: dict[str, Embedding] = {}
    for name in models:
        if name not in config.models:
            continue  # a model without a section fails where it is trained, with the message for it
        owner, settings = family(name), config.models[name]
        found.update({view.key: view for view in needed_views(config, owner.members(settings))})
        found.update({view.key: view for view in owner.embeddings(settings)})
    return list(found.values())


def with_views(dataset: GenreDataset, config: Config, models: Sequence[str]) -> GenreDataset:
    """``dataset`` with the pre-trained views ``models`` read and it lacks (none: itself)."""
    missing = [view for view in needed_views(config, models) if view.key not in dataset.embeddings]
    if not missing:
        return dataset
    from multimodal_genre.musicnn.embeddings import dataset_embedding  # PIL, librosa and Keras behind it

    return dataset.with_embeddings({view.key: dataset_embedding(dataset, view, config.data) for view in missing})
