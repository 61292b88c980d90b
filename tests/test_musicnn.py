"""musicnn: the Keras port against the authors' own TensorFlow 1 graph, where its weights come from,
the two routes to its input, and each track's pooled embedding."""

from __future__ import annotations

import dataclasses
import io
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from multimodal_genre.audio import PAD_MODE, SAMPLE_RATE, spectrogram_image
from multimodal_genre.errors import ConfigError
from multimodal_genre.musicnn import Embedding, inputs, weights
from multimodal_genre.musicnn.embeddings import Clip, activations_of, embed
from multimodal_genre.musicnn.network import VGG_POOLS, load_checkpoint_weights, musicnn, pretrained, vgg

from conftest import required_by_ci, tone

CHECKPOINTS = ["MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg"]
# The inference outputs of the authors' graph (models.py, as saved in each checkpoint's model.meta).
REFERENCE_OUTPUTS = {
    "musicnn": {
        "tags": "model/Sigmoid",
        "mean_pool": "model/moments/Squeeze",
        "max_pool": "model/Max",
        "penultimate": "model/batch_normalization_10/batchnorm/add_1",
    },
    "vgg": {"tags": "model/Sigmoid", "pool5": "model/Flatten/flatten/Reshape"},
}


@pytest.fixture(scope="module")
def weights_dir() -> Path:
    return Path(required_by_ci("MULTIMODAL_GENRE_WEIGHTS", "the folder of shared weights, with musicnn/")) / "musicnn"


def frozen_reference_graph(prefix: Path, outputs: list[str]):
    """The checkpoint's own graph (model.meta) cut to ``outputs``, its variables made constants of the
    checkpoint's values: TensorFlow 1.12 wrote ``_output_shapes`` attributes that today's importer
    refuses, and ops that update the batch-norm statistics, which with constants become plain arithmetic."""
    import tensorflow as tf
    from tensorflow.core.protobuf import meta_graph_pb2
    from tensorflow.python.framework import tensor_util

    meta = meta_graph_pb2.MetaGraphDef()
    meta.ParseFromString(Path(f"{prefix}.meta").read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # extract_sub_graph is TensorFlow 1's
        graph = tf.compat.v1.graph_util.extract_sub_graph(meta.graph_def, [*outputs, "model/Placeholder_2"])
    reader = tf.train.load_checkpoint(str(prefix))
    frozen = tf.compat.v1.GraphDef()
    for node in graph.node:
        copy = frozen.node.add()
        if node.op == "VariableV2":
            value = reader.get_tensor(node.name)
            copy.name, copy.op = node.name, "Const"
            copy.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
            copy.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(value))
            continue
        copy.CopyFrom(node)
        del copy.attr["_output_shapes"]
        if node.op in ("AssignSub", "Assign"):
            copy.op = "Sub" if node.op == "AssignSub" else "Identity"
            for key in ("use_locking", "validate_shape"):
                del copy.attr[key]
            if node.op == "Assign":
                copy.input[:] = [node.input[1]]
        for key in ("T", "dtype"):
            if key in copy.attr and copy.attr[key].type > 100:  # a reference type: its value type
                copy.attr[key].type -= 100
    return frozen


def reference_outputs(prefix: Path, architecture: str, patches: np.ndarray) -> dict[str, np.ndarray]:
    import tensorflow as tf

    names = REFERENCE_OUTPUTS[architecture]
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(frozen_reference_graph(prefix, list(names.values())), name="")
    with tf.compat.v1.Session(graph=graph) as session:
        tensors = [graph.get_tensor_by_name(f"{name}:0") for name in names.values()]
        values = session.run(tensors, {"model/Placeholder:0": patches, "model/Placeholder_2:0": False})
    return {key: value.reshape(len(patches), -1) for key, value in zip(names, values, strict=True)}


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_the_port_equals_the_checkpoints_own_graph(checkpoint, weights_dir):
    architecture = checkpoint.split("_")[1]
    prefix = weights_dir / checkpoint / "model"
    patches = np.random.default_rng(0).uniform(0.0, 3.5, (3, inputs.PATCH_FRAMES, inputs.MEL_BANDS)).astype("float32")
    expected = reference_outputs(prefix, architecture, patches)
    network = musicnn() if architecture == "musicnn" else vgg(VGG_POOLS[checkpoint[:3].lower()])
    load_checkpoint_weights(network, architecture, str(prefix))
    got = network(patches, training=False)
    for name, values in expected.items():
        # Within 1e-4, and within float32's own precision of the few values far above 1 (a max-pooled
        # activation near 59 is computed to about 1e-4: the two graphs sum in a machine's own order).
        np.testing.assert_allclose(np.asarray(got[name]), values, rtol=1e-5, atol=1e-4, err_msg=name)
    assert 0.0 < float(np.asarray(got["tags"]).max()) < 1.0


def test_weights_come_from_the_weights_folder_checked(weights_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("MULTIMODAL_GENRE_WEIGHTS", str(weights_dir.parent))
    assert weights.checkpoint_prefix("musicnn", "msd") == str(weights_dir / "MSD_musicnn" / "model")
    damaged = tmp_path / "weights" / "musicnn" / "MTT_vgg"
    damaged.mkdir(parents=True)
    (damaged / "model.index").write_bytes((weights_dir / "MTT_vgg" / "model.index").read_bytes())
    (damaged / "model.data-00000-of-00001").write_bytes(b"not the weights")
    monkeypatch.setenv("MULTIMODAL_GENRE_WEIGHTS", str(tmp_path / "weights"))
    with pytest.raises(ConfigError, match=r"MTT_vgg/model.data-00000-of-00001: not the MTT_vgg checkpoint .*SHA-256"):
        weights.checkpoint_prefix("vgg", "mtt")
    (damaged / "model.data-00000-of-00001").unlink()
    with pytest.raises(ConfigError, match=r"MTT_vgg/model.data-00000-of-00001: missing"):
        weights.checkpoint_prefix("vgg", "mtt")


def local_wheel(folder: Path, weights_dir: Path, checkpoint: str, content: bytes | None = None) -> Path:
    """A wheel named as musicnn 0.1.0's, holding ``checkpoint``'s files under the wheel's empty prefix
    (``content`` in place of its weights, to make it wrong), for pip to find in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "musicnn-0.1.0-py3-none-any.whl"
    info = "musicnn-0.1.0.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: musicnn\nVersion: 0.1.0\n")
        tags = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        wheel.writestr(f"{info}/WHEEL", tags)
        wheel.writestr(f"{info}/RECORD", "")
        for file in ("model.index", "model.data-00000-of-00001"):
            data = (weights_dir / checkpoint / file).read_bytes()
            if content is not None and file.startswith("model.data"):
                data = content
            wheel.writestr(f"musicnn/{checkpoint}/{file.removeprefix('model')}", data)
    return folder


def test_without_a_weights_folder_they_are_fetched_once_from_the_wheel(weights_dir, monkeypatch, tmp_path):
    monkeypatch.delenv("MULTIMODAL_GENRE_WEIGHTS", raising=False)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(local_wheel(tmp_path / "index", weights_dir, "MTT_vgg")))
    prefix = weights.checkpoint_prefix("vgg", "mtt")
    cached = Path(os.environ["MULTIMODAL_GENRE_CACHE"]) / "weights" / "musicnn" / "MTT_vgg"
    assert prefix == str(cached / "model")
    assert (cached / "model.index").read_bytes() == (weights_dir / "MTT_vgg" / "model.index").read_bytes()
    (tmp_path / "index" / "musicnn-0.1.0-py3-none-any.whl").unlink()  # a second use needs no download
    assert weights.checkpoint_prefix("vgg", "mtt") == prefix


def test_a_wheel_with_other_weights_or_none_is_one_line(weights_dir, monkeypatch, tmp_path):
    monkeypatch.delenv("MULTIMODAL_GENRE_WEIGHTS", raising=False)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(local_wheel(tmp_path / "bad", weights_dir, "MSD_vgg", b"other")))
    with pytest.raises(ConfigError, match=r"musicnn/MSD_vgg/.data-00000-of-00001 is not the file musicnn 0.1.0"):
        weights.checkpoint_prefix("vgg", "msd")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match=r"MSD_vgg is not there and pip could not download musicnn==0.1.0") as error:
        weights.checkpoint_prefix("vgg", "msd")
    assert "\n" not in str(error.value)
    assert not (Path(os.environ["MULTIMODAL_GENRE_CACHE"]) / "weights" / "musicnn" / "MSD_vgg" / "model.index").exists()


def test_a_checkpoint_of_ones_own_is_named_by_its_prefix(tmp_path):
    with pytest.raises(ConfigError, match=f"no checkpoint file {tmp_path}/mine/model.index"):
        weights.checkpoint_prefix("musicnn", str(tmp_path / "mine" / "model"))


def picture_route(samples: np.ndarray) -> np.ndarray:
    """``from_picture`` of the picture ``audio.py`` draws of ``samples``, its level from their RMS."""
    import librosa

    rms = librosa.feature.rms(y=samples, pad_mode="reflect")
    return inputs.from_picture(spectrogram_image(samples), len(samples), float(rms.mean()), float(rms.var()))


def test_the_picture_route_follows_the_audio_route():
    samples = tone()
    direct, drawn = inputs.from_audio(samples), picture_route(samples)
    assert direct.shape == drawn.shape == (1 + int(np.ceil(len(samples) * 16000 / SAMPLE_RATE)) // 256, 96)
    assert np.corrcoef(direct.ravel(), drawn.ravel())[0, 1] > 0.85
    assert abs(float(direct.mean() - drawn.mean())) < 0.3  # the level comes back from the RMS (Parseval)
    quieter = picture_route(samples / 10)  # the same picture, a hundredth of the power
    np.testing.assert_allclose(quieter.mean(), inputs.from_audio(samples / 10).mean(), atol=0.3)
    assert quieter.mean() < drawn.mean() - 0.3


def test_loud_audio_stays_finite():
    """The authors' extractor multiplies a float16 copy by 10000, which NumPy 2 keeps in float16: inf."""
    loud = np.clip(tone() * 80, -1, 1)
    assert np.isfinite(inputs.from_audio(loud)).all()


def test_a_clip_is_cut_into_whole_three_second_patches():
    spectrogram = np.arange(1876 * 96, dtype=np.float32).reshape(1876, 96)
    cut = inputs.patches(spectrogram)
    assert cut.shape == (10, 187, 96)
    np.testing.assert_array_equal(cut[1, 0], spectrogram[187])
    assert inputs.patches(spectrogram[:100]).shape == (1, 187, 96)  # a short clip is repeated to one patch


def test_a_resampled_picture_still_reads_as_levels():
    samples = tone()
    picture = spectrogram_image(samples)
    blurred = Image.open(io.BytesIO(_as_jpeg(picture)))  # colours off the map: the nearest one's level
    import librosa

    rms = librosa.feature.rms(y=samples, pad_mode="reflect")
    exact = inputs.from_picture(picture, len(samples), float(rms.mean()), float(rms.var()))
    approximate = inputs.from_picture(blurred, len(samples), float(rms.mean()), float(rms.var()))
    assert np.corrcoef(exact.ravel(), approximate.ravel())[0, 1] > 0.85  # 0.90 at JPEG quality 90


def _as_jpeg(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def clip_of(samples: np.ndarray) -> Clip:
    """What the picture route needs of audio: its length and the CSV row's level (``rms_mean``, ``rms_var``)."""
    import librosa

    rms = librosa.feature.rms(y=samples, pad_mode=PAD_MODE)
    return Clip(len(samples), float(rms.mean()), float(rms.var()))


@pytest.fixture(scope="module")
def clips() -> tuple[list[Image.Image], list[Clip]]:
    pictures, rows = [], []
    for seed, seconds in ((1, 30.0), (2, 30.0), (3, 12.0)):
        samples = tone(seconds, seed)
        pictures.append(spectrogram_image(samples))
        rows.append(clip_of(samples))
    return pictures, rows


def test_a_tracks_embedding_pools_its_patches_by_mean_and_max(clips, weights_dir, monkeypatch):
    monkeypatch.setenv("MULTIMODAL_GENRE_WEIGHTS", str(weights_dir.parent))
    pictures, rows = clips
    view = Embedding("musicnn", "msd", ("penultimate", "tags"))
    values = embed(pictures, rows, view)
    assert values.shape == (3, view.width) == (3, 2 * (200 + 50)) and values.dtype == np.float32
    network = pretrained("musicnn", "msd")
    patches = inputs.patches(inputs.from_picture(pictures[0], rows[0].length, rows[0].rms_mean, rows[0].rms_var))
    outputs = network(patches, training=False)
    per_patch = np.concatenate([np.asarray(outputs["penultimate"]), np.asarray(outputs["tags"])], axis=1)
    np.testing.assert_allclose(values[0], np.concatenate([per_patch.mean(axis=0), per_patch.max(axis=0)]), atol=1e-5)
    assert len(patches) == 10
    trainable = embed(pictures[:2], rows[:2], dataclasses.replace(view, trainable=True))
    assert trainable.shape == (2, 10, 187, 96)


def test_a_view_of_some_activations_is_the_same_columns_of_the_whole_pass(clips, weights_dir, monkeypatch):
    """The pass over a dataset keeps every activation; a model's view is cut out of it."""
    monkeypatch.setenv("MULTIMODAL_GENRE_WEIGHTS", str(weights_dir.parent))
    pictures, rows = clips
    whole = Embedding("musicnn", "msd", ("mean_pool", "max_pool", "penultimate", "tags"), patches=2)
    wanted = ("tags", "mean_pool")
    cut = activations_of(embed(pictures, rows, whole), whole, wanted)
    np.testing.assert_allclose(cut, embed(pictures, rows, dataclasses.replace(whole, activations=wanted)), atol=1e-6)


@pytest.fixture(scope="module")
def ten_clips(weights_dir):
    """The ten GTZAN clips with audio: musicnn's mean tags of each by three routes, from the Kaggle
    picture and CSV row, from the picture this package draws of the audio, and from the audio directly."""
    import pandas as pd

    from multimodal_genre.audio import load_audio
    from multimodal_genre.data.layout import FEATURES_CSV, image_path

    root = Path(required_by_ci("GTZAN_DIR", "the real GTZAN dataset"))
    table = pd.read_csv(root / FEATURES_CSV).set_index("filename")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MULTIMODAL_GENRE_WEIGHTS", str(weights_dir.parent))
        network = pretrained("musicnn", "msd")
    routes = {"kaggle": [], "drawn": [], "direct": []}
    for audio in sorted((root / "genres_original").glob("*/*.wav")):
        row = table.loc[audio.name]
        picture = Image.open(image_path(root, row["label"], audio.name))
        samples = load_audio(audio)
        drawn = clip_of(samples)
        spectrograms = {
            "kaggle": inputs.from_picture(picture, int(row["length"]), row["rms_mean"], row["rms_var"]),
            "drawn": inputs.from_picture(spectrogram_image(samples), drawn.length, drawn.rms_mean, drawn.rms_var),
            "direct": inputs.from_audio(samples),
        }
        cut = [inputs.patches(spectrogram) for spectrogram in spectrograms.values()]
        tags = network.predict_on_batch(np.concatenate(cut))["tags"]  # the three routes' patches in one batch
        for route, part in zip(spectrograms, np.split(tags, np.cumsum([len(c) for c in cut])[:-1]), strict=True):
            routes[route].append(part.mean(axis=0))
    return routes


def test_new_audio_by_the_picture_route_is_read_as_its_kaggle_picture(ten_clips):
    """A model trained on the Kaggle pictures is given the picture of new audio: on the ten clips it
    tags them as it tags their Kaggle pictures (correlation of the mean tags 0.999 and more)."""
    correlations = [np.corrcoef(k, d)[0, 1] for k, d in zip(ten_clips["kaggle"], ten_clips["drawn"], strict=True)]
    assert len(correlations) == 10 and min(correlations) > 0.99


def test_the_direct_audio_route_is_another_view(ten_clips):
    """From the audio directly, musicnn tags the same clips otherwise (mean correlation about 0.3):
    the picture keeps 40 dB and a column for every four STFT frames, so a model keeps to its route."""
    correlations = [np.corrcoef(k, d)[0, 1] for k, d in zip(ten_clips["kaggle"], ten_clips["direct"], strict=True)]
    assert np.mean(correlations) < 0.6
