"""Each kind of bad input fails with one clear line naming the file, line or key, from the API and the CLI."""

import io
import shutil

import pytest
from PIL import Image

from multimodal_genre.cli import main
from multimodal_genre.data import load_dataset
from multimodal_genre.data.layout import FEATURES_CSV, IMAGES_DIR, image_path
from multimodal_genre.errors import DataError

from conftest import one_error, read_csv_text, write_csv_text


def edit_csv(root, change):
    table = read_csv_text(root)
    write_csv_text(root, change(table))


def set_cell(row, column, value):
    def change(table):
        table.loc[row, column] = value
        return table

    return change


def append_text(path, text):
    with path.open("a") as handle:
        handle.write(text)


def damage_image(root, transform):
    path = image_path(root, "blues", "blues.00004.wav")
    path.write_bytes(transform(path.read_bytes()))


def resized(data: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).resize((200, 100)).save(out, format="PNG")
    return out.getvalue()


CASES = {
    "missing CSV": (lambda root: (root / FEATURES_CSV).unlink(), f"{FEATURES_CSV}: features CSV not found"),
    "missing image folder": (lambda root: shutil.rmtree(root / IMAGES_DIR), f"{IMAGES_DIR}: image folder not found"),
    "missing column": (lambda root: edit_csv(root, lambda t: t.drop(columns="tempo")), "missing columns: tempo"),
    "extra column": (lambda root: edit_csv(root, lambda t: t.assign(bpm="1")), "unexpected columns: bpm"),
    "NaN feature": (
        lambda root: edit_csv(root, set_cell(3, "rms_mean", "nan")),
        "line 5 (blues.00003.wav): column 'rms_mean' is nan",
    ),
    "empty feature": (
        lambda root: edit_csv(root, set_cell(3, "tempo", "")),
        "line 5 (blues.00003.wav): column 'tempo' is empty",
    ),
    "non-numeric feature": (
        lambda root: edit_csv(root, set_cell(6, "mfcc3_var", "abc")),
        "line 8 (blues.00006.wav): column 'mfcc3_var' is not a number: 'abc'",
    ),
    "label disagrees with image folder": (
        lambda root: edit_csv(root, set_cell(2, "label", "rock")),
        "line 4 (blues.00002.wav): label 'rock' disagrees with its file name and image folder 'blues'",
    ),
    "unknown genre": (
        lambda root: edit_csv(
            root, lambda t: set_cell(0, "label", "polka")(set_cell(0, "filename", "polka.00000.wav")(t))
        ),
        "line 2 (polka.00000.wav): unknown genre 'polka' (known: blues, classical",
    ),
    "file name without an extension": (
        lambda root: edit_csv(root, set_cell(1, "filename", "my song")),
        "line 3: filename 'my song' is not an audio file name such as blues.00000.wav",
    ),
    "file name with a folder": (
        lambda root: edit_csv(root, set_cell(1, "filename", "blues/blues.00001.wav")),
        "line 3: filename 'blues/blues.00001.wav' is not an audio file name",
    ),
    "no label": (
        lambda root: edit_csv(root, set_cell(1, "label", "")),
        "line 3 (blues.00001.wav): no label (give one with: multimodal-genre extract --label GENRE)",
    ),
    "two names, one image": (
        lambda root: edit_csv(
            root, lambda t: set_cell(2, "filename", "my.song.wav")(set_cell(1, "filename", "mysong.flac")(t))
        ),
        "lines 3 and 4: 'mysong.flac' and 'my.song.wav' would share the image images_original/blues/mysong.png",
    ),
    "repeated file name": (
        lambda root: edit_csv(root, set_cell(5, "filename", "blues.00001.wav")),
        "lines 3 and 7: filename 'blues.00001.wav' appears twice",
    ),
    "corrupt PNG": (
        lambda root: damage_image(root, lambda data: b"not a png at all"),
        "blues00004.png: corrupt or truncated image",
    ),
    "truncated PNG": (
        lambda root: damage_image(root, lambda data: data[: len(data) // 2]),
        "blues00004.png: corrupt or truncated image",
    ),
    "header only": (lambda root: edit_csv(root, lambda t: t.iloc[:0]), f"{FEATURES_CSV}: no data rows, only a header"),
    "empty CSV file": (lambda root: (root / FEATURES_CSV).write_bytes(b""), f"{FEATURES_CSV}: the file is empty"),
    "ragged CSV row": (
        lambda root: append_text(root / FEATURES_CSV, ",".join(["x"] * 70) + "\r\n"),
        "malformed CSV",
    ),
    "no images at all": (
        lambda root: [path.unlink() for path in (root / IMAGES_DIR).rglob("*.png")],
        "no track has both a CSV row and an image",
    ),
    "image of another size": (
        lambda root: damage_image(root, resized),
        "blues00004.png: image is 200x100, the others are 432x288",
    ),
}


@pytest.fixture(params=sorted(CASES), ids=sorted(CASES))
def damaged(request, dataset_copy):
    damage, expected = CASES[request.param]
    damage(dataset_copy)
    return dataset_copy, expected


@pytest.mark.filterwarnings("ignore::multimodal_genre.data.MissingImageWarning")
def test_api_raises_a_data_error_naming_the_culprit(damaged, config):
    root, expected = damaged
    with pytest.raises(DataError) as caught:
        load_dataset(root, config.data)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_cli_prints_one_line_and_exits_2(damaged, capsys):
    root, expected = damaged
    assert main(["data", "summary", "--data", str(root)]) == 2
    captured = capsys.readouterr()
    assert expected in one_error(captured.err) and captured.out == ""


def test_missing_dataset_folder_says_where_and_how_to_get_it(tmp_path, capsys):
    assert main(["data", "summary", "--data", str(tmp_path / "nowhere")]) == 2
    error = one_error(capsys.readouterr().err)
    assert f"{tmp_path / 'nowhere'} (from --data): no such dataset folder" in error
    assert "GTZAN Dataset - Music Genre Classification" in error


def test_bad_config_key_from_the_command_line(synthetic_root, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  image:\n    hieght: 64\n")
    assert main(["data", "summary", "--data", str(synthetic_root), "--config", str(bad)]) == 2
    error = one_error(capsys.readouterr().err)
    expected = f"{bad}: unknown key 'data.image.hieght' (expected one of: color, crop, height, width)"
    assert error == f"multimodal-genre: error: {expected}"
