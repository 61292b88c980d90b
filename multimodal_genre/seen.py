"""Which tracks a trained model has seen, and the one door every score passes through.

A model has *seen* a track when it trained on it or when its early stopping watched it. A score on
tracks a model trained on measures its memory, not its skill, and nothing in the number says so.
So every place that scores (a comparison's test sides, a study's trials, a stack's selection, the
outer folds of a study) goes through ``refuse_seen``: where a model would be scored on tracks it has
seen, it raises an error naming them. A leak becomes an error, not a number.

Watched tracks are a validation side: a study may score a single model on the tracks its early
stopping watched (that is what validating means), a test never. A fold-bagged member's out-of-fold
predictions are held to the test's rule: of tracks it neither trained nor stopped on, since a study's
trials and a stack's weights are chosen on them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from multimodal_genre.data import GenreDataset, Split, Tracks
from multimodal_genre.errors import RunError, some_of
from multimodal_genre.evaluation import score

_NAMED = 5  # tracks named in an error


class SeenRowsError(RunError):
    """A model was about to be scored on tracks it has seen."""


@dataclasses.dataclass(frozen=True)
class Seen:
    """The track ids a model trained on, and those its early stopping watched."""

    trained: frozenset[str]
    watched: frozenset[str] = frozenset()

    @classmethod
    def of(cls, dataset: GenreDataset, trained: np.ndarray, watched: np.ndarray | None = None) -> Seen:
        """The tracks of ``dataset``'s rows ``trained`` and ``watched``."""
        rows = np.empty(0, dtype=int) if watched is None else watched
        return cls(frozenset(dataset.track_ids[trained].tolist()), frozenset(dataset.track_ids[rows].tolist()))

    @classmethod
    def union(cls, seen: Iterable[Seen]) -> Seen:
        """What several models saw between them (a bag's members, a stack's)."""
        parts = list(seen)
        return cls(
            frozenset().union(*(part.trained for part in parts)), frozenset().union(*(part.watched for part in parts))
        )


@dataclasses.dataclass(frozen=True)
class OutOfFold:
    """Genre probabilities for a split's training pool, each row from the member of a fold-bagged
    model that held that row out: what a bagged study trial is scored on and a stack chooses its
    weights on, so that the test rows never take part."""

    rows: np.ndarray  # dataset row indices, sorted
    probabilities: np.ndarray  # (len(rows), 10)
    predicted_by: np.ndarray  # the 0-based member that predicted each row
    seen_by: tuple[Seen, ...]  # what each member saw: no row it predicted may be among them

    def refuse_seen(self, dataset: GenreDataset, model: str) -> None:
        """``refuse_seen_out_of_fold`` for these predictions of ``dataset``'s rows."""
        refuse_seen_out_of_fold(self.seen_by, dataset.track_ids[self.rows], self.predicted_by, model)


class Scored(Protocol):
    """What a score needs of a model: its name, what it has seen, and its predictions."""

    name: str
    seen: Seen

    def predict_proba(self, tracks: Tracks) -> np.ndarray: ...


class HoldsOut(Scored, Protocol):
    """A model and, where it is fold-bagged (or a stack of such), its out-of-fold predictions."""

    out_of_fold: OutOfFold | None


def refuse_seen(seen: Seen, tracks: Iterable[str], model: str, *, validating: bool = False) -> None:
    """A SeenRowsError naming the tracks of ``tracks`` that ``model`` trained on, or (unless
    ``validating``) that its early stopping watched."""
    tracks = set(tracks)
    trained = sorted(tracks & seen.trained)
    watched = [] if validating else sorted(tracks & seen.watched)
    for found, how in ((trained, "trained on"), (watched, "watched for early stopping")):
        if found:
            named = some_of(found, _NAMED)
            raise SeenRowsError(
                f"{model} {how} {len(found)} of the {len(tracks)} tracks it was to be scored on ({named}); "
                "a model is scored only on tracks it has not seen"
            )


def unseen_probabilities(
    model: Scored, dataset: GenreDataset, rows: np.ndarray, *, validating: bool = False
) -> np.ndarray:
    """``model``'s probabilities for ``dataset``'s ``rows``, once ``refuse_seen`` has passed them."""
    refuse_seen(model.seen, dataset.track_ids[rows], model.name, validating=validating)
    return model.predict_proba(dataset.tracks(rows))


def score_unseen(model: Scored, dataset: GenreDataset, rows: np.ndarray) -> dict[str, float]:
    """The test metrics of ``model`` on ``rows``, none of which it may have seen."""
    return score(dataset.labels[rows], unseen_probabilities(model, dataset, rows))


def refuse_seen_out_of_fold(
    member_seen: Sequence[Seen], tracks: np.ndarray, predicted_by: np.ndarray, model: str
) -> None:
    """``refuse_seen`` for out-of-fold predictions: each track against the member that predicted it,
    which may neither have trained on it nor watched it for early stopping."""
    for index, seen in enumerate(member_seen):
        refuse_seen(seen, tracks[predicted_by == index], f"{model} member {index + 1}")


@dataclasses.dataclass(frozen=True)
class HeldOut:
    """Predictions of rows that a model (or the member of a bag that made them) never trained on:
    what a study scores a trial by, one per inner fold."""

    rows: np.ndarray  # dataset row indices
    probabilities: np.ndarray  # (len(rows), 10)
    test_to_train: float  # held-out rows per row the predicting model trained on


def held_out(model: HoldsOut, dataset: GenreDataset, split: Split) -> list[HeldOut]:
    """A fold-bagged model's out-of-fold predictions (a stack's too), one part per member (the fold it held out);
    else the predictions of the validation side (which early stopping may have watched, but no
    model trained on)."""
    oof = model.out_of_fold
    if oof is None:
        probabilities = unseen_probabilities(model, dataset, split.validation, validating=True)
        return [HeldOut(split.validation, probabilities, len(split.validation) / len(model.seen.trained))]
    oof.refuse_seen(dataset, model.name)
    return [
        HeldOut(oof.rows[mine], oof.probabilities[mine], int(mine.sum()) / len(seen.trained))
        for index, seen in enumerate(oof.seen_by)
        if (mine := oof.predicted_by == index).any()
    ]
