"""A config resolved against its dataset, and the pre-trained views of the tracks that models read
(``Tracks.embeddings``), added to the dataset before they train or predict.

A command resolves its config once, where it starts (``prepare``): every ``source: auto`` made picture
or audio, and the dataset given every view its models read. What trains, tunes and records a run takes
the ``Prepared`` that comes back, never a bare config, so nothing resolves it again.

A model's family says which views its settings read; a stack reads what its base models read. Each
view is computed once per dataset (and kept in the on-disk cache, ``musicnn/embeddings.py``), so a
comparison's folds, a study's trials and a bag's members share it, and workers receive it with the
dataset.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Literal

from multimodal_genre.config import Config
from multimodal_genre.data import GenreDataset
from multimodal_genre.errors import DataError, some_of
from multimodal_genre.families import family
from multimodal_genre.musicnn import Embedding
from multimodal_genre.settings import Settings

_NAMED = 3  # tracks without audio named in an error


def needed_views(config: Config, models: Iterable[str]) -> list[Embedding]:
    """Every pre-trained view ``models`` (and the members of a stack among them) read, each once."""
    found: dict[str, Embedding] = {}
    for name in models:
        if name not in config.models:
            continue  # a model without a section fails where it is trained, with the message for it
        owner, settings = family(name), config.models[name]
        found.update({view.key: view for view in needed_views(config, owner.built_from(settings))})
        found.update({view.key: view for view in owner.embeddings(settings)})
    return list(found.values())


@dataclasses.dataclass(frozen=True)
class Prepared:
    """``config`` with its sources resolved against ``dataset``, which carries the views its models
    read: made by ``prepare`` alone."""

    dataset: GenreDataset
    config: Config

    def with_config(self, config: Config, models: Sequence[str]) -> Prepared:
        """Another config (a trial's, a re-train's) resolved against the same dataset, which gains the
        views ``models`` read under it."""
        return prepare(self.dataset, config, models)

    def check_views(self, name: str) -> None:
        """Refuse to train ``name`` on a dataset prepared without the views it reads: a caller that
        prepared other models."""
        missing = [view.key for view in needed_views(self.config, [name]) if view.key not in self.dataset.embeddings]
        if missing:
            raise ValueError(f"{name}: the dataset was prepared without the views it reads ({', '.join(missing)})")


def prepare(dataset: GenreDataset, config: Config, models: Sequence[str]) -> Prepared:
    """``config`` with its sources resolved against ``dataset`` (``with_sources``), and ``dataset``
    with the views ``models`` read under it: what a run trains on and records."""
    config = with_sources(config, dataset)
    missing = [view for view in needed_views(config, models) if view.key not in dataset.embeddings]
    if missing:
        from multimodal_genre.musicnn.embeddings import dataset_embedding  # PIL, librosa and Keras behind it

        dataset = dataset.with_embeddings({view.key: dataset_embedding(dataset, view, config.data) for view in missing})
    return Prepared(dataset, config)


def with_sources(config: Config, dataset: GenreDataset) -> Config:
    """``config`` with every ``source: auto`` of a model's pre-trained view made ``audio`` where every
    track of ``dataset`` has its audio, else ``picture``; a source of ``audio`` on a dataset whose
    tracks lack it is an error naming them."""
    resolved = sources_as(config, "audio" if dataset.has_audio else "picture")
    if not dataset.has_audio:
        asking = [name for name, settings in resolved.models.items() if _reads_audio(settings)]
        if asking:
            missing = dataset.track_ids[dataset.audio == ""]
            named = some_of(list(missing), _NAMED)
            raise DataError(
                f"{dataset.root}: models.{asking[0]} reads musicnn's input from the audio (source: audio), but "
                f"{len(missing)} of {len(dataset)} tracks have none under genres_original/ ({named})"
            )
    return resolved


def sources_as(config: Config, source: Literal["picture", "audio"]) -> Config:
    """``config`` with every ``source: auto`` of its models made ``source``: as a run on a dataset
    with (audio) or without (picture) every track's audio records it."""
    return dataclasses.replace(config, models={name: _resolved(value, source) for name, value in config.models.items()})


def _resolved(settings: Settings, source: str) -> Settings:
    """``settings`` with each ``source: auto`` in it, at any depth, made ``source``."""
    changes = {}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if field.name == "source" and value == "auto":
            changes[field.name] = source
        elif isinstance(value, Settings):
            inner = _resolved(value, source)
            if inner is not value:
                changes[field.name] = inner
    return dataclasses.replace(settings, **changes) if changes else settings


def _reads_audio(settings: Settings) -> bool:
    return any(
        (field.name == "source" and getattr(settings, field.name) == "audio")
        or (isinstance(getattr(settings, field.name), Settings) and _reads_audio(getattr(settings, field.name)))
        for field in dataclasses.fields(settings)
    )
