"""musicnn (Pons and Serra, 2019), networks pre-trained to tag music, as a view of each track.

``weights.py`` finds and checks the authors' checkpoints, ``network.py`` is the networks in Keras 3
layers, ``inputs.py`` makes their input from a Kaggle picture or from audio, and ``embeddings.py``
computes (and caches) each track's pooled activations. ``Embedding`` here names such a view: what a
model's pre-trained branch asks of the tracks, kept light so that reading a config imports no more.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

# Each network's outputs (``network.py``), by name, and their widths.
ACTIVATIONS = {
    "musicnn": {"mean_pool": 753, "max_pool": 753, "penultimate": 200, "tags": 50},
    "vgg": {"pool5": 256, "tags": 50},
}


@dataclasses.dataclass(frozen=True)
class Embedding:
    """Which network reads the pictures, with which weights, and which of its activations a track keeps."""

    network: Literal["musicnn", "vgg"]
    weights: str  # msd, mtt, or the prefix of a checkpoint of the user's own
    activations: tuple[str, ...]
    patches: int | None = None  # 3 s patches a clip: None, every whole one; a number, that many evenly spaced
    trainable: bool = False  # fine-tuned in the model: the track's view is its patches, not their activations
    # Where the network's input comes from: the track's picture (``inputs.from_picture``) or its audio
    # (``inputs.from_audio``); a model keeps to the route it trained on.
    source: Literal["picture", "audio"] = "picture"

    @property
    def key(self) -> str:
        """The name of this view of a track: a network's input, and a dataset's array."""
        spaced = () if self.patches is None else (f"{self.patches}patches",)
        heard = ("audio",) if self.source == "audio" else ()
        if self.trainable:
            return "_".join((self.network, "input", *heard, *spaced))
        return "_".join((self.network, self.weights_name, *heard, *self.activations, *spaced))

    @property
    def weights_name(self) -> str:
        """msd or mtt, or a checkpoint of the user's own by its content (``checkpoint_id``)."""
        return self.weights if self.weights in ("msd", "mtt") else checkpoint_id(self.weights)

    @property
    def title(self) -> str:
        """The view in words: ``musicnn (msd) view``."""
        return f"{'musicnn' if self.network == 'musicnn' else 'musicnn VGG'} ({self.weights_name}) view"

    @property
    def blocks(self) -> list[int]:
        """The widths of a track's values, block by block: each activation's mean over the patches,
        then each one's max."""
        return [ACTIVATIONS[self.network][name] for name in self.activations] * 2

    @property
    def width(self) -> int:
        """Values per track."""
        return sum(self.blocks)


def resolved_source(source: str) -> Literal["picture", "audio"]:
    """A view's source once a run has resolved ``auto`` against its dataset (``views.with_sources``);
    ``auto`` here is a bug: a model would not know which route it trained on."""
    if source == "auto":
        raise RuntimeError("source 'auto' is resolved against a dataset (views.with_sources) before a view is read")
    return source  # type: ignore[return-value]


def network_of(name: str) -> Literal["musicnn", "vgg"]:
    """The network a config's backbone name means: ``musicnn_vgg`` is the VGG, ``musicnn`` musicnn."""
    return "vgg" if name == "musicnn_vgg" else "musicnn"


def view_problems(network: str, activations: tuple[str, ...], patches: int | None) -> Iterator[tuple[str, str]]:
    """(key, problem) for a view's activations and patches that ``network`` cannot give."""
    known = ACTIVATIONS[network]
    if not activations or any(name not in known for name in activations):
        yield "activations", f"must list some of {', '.join(known)}, got {list(activations)}"
    if patches is not None and patches < 1:
        yield "patches", f"must be at least 1 (null: every whole patch), got {patches}"


def checkpoint_id(prefix: str) -> str:
    """A short name for a checkpoint of the user's own: the hash of its index file, wherever it lies."""
    with Path(f"{prefix}.index").open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()[:12]
