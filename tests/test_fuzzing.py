"""Property-based tests (Hypothesis) of what reads files from elsewhere: the features CSV, config
files and run records. Any input gives a valid result or one of the package's own errors (which
the command line prints as one line), never another exception."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from multimodal_genre.cli import main
from multimodal_genre.config import Config, config_dict, load_config, load_run_config
from multimodal_genre.data import GENRES
from multimodal_genre.data.layout import CSV_COLUMNS, FEATURES_CSV
from multimodal_genre.data.table import read_features_table
from multimodal_genre.errors import MultimodalGenreError
from multimodal_genre.records import RUN_FILE, RunRecord, read_record

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Values a hostile or careless file may hold where a number, a name or a setting is expected.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["nan", "inf", "-1", "1e999", "<script>", "../../etc/passwd", "blues", "jazz.00054.wav"]),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
)
filenames = st.one_of(
    st.builds(lambda genre, number: f"{genre}.{number:05d}.wav", st.sampled_from(GENRES), st.integers(0, 99)),
    st.text(max_size=20),
    st.sampled_from(["../x.wav", "a/b.wav", "<img src=x onerror=alert(1)>.wav", ".wav", "x.", "blues.00000.WAV"]),
)


def cell(value: Any) -> str:
    return "" if value is None else str(value).replace("\n", " ")


@st.composite
def feature_tables(draw: st.DrawFn) -> str:
    """A features CSV: the Kaggle columns (sometimes one missing or renamed), rows of good and bad cells."""
    columns = list(CSV_COLUMNS)
    if draw(st.booleans()):
        index = draw(st.integers(0, len(columns) - 1))
        columns[index] = draw(st.sampled_from(["", "filename", "chroma_stft_mean ", columns[index].upper()]))
    rows = []
    for _ in range(draw(st.integers(0, 4))):
        row = {column: draw(st.floats(-1e6, 1e6) | scalars) for column in columns}
        row["filename"] = draw(filenames)
        row["label"] = draw(st.sampled_from(GENRES) | st.text(max_size=8))
        rows.append([cell(row[column]) for column in columns])
    lines = [",".join(columns), *(",".join(row) for row in rows)]
    if draw(st.booleans()):
        lines.append(draw(st.text(max_size=30)))  # a ragged or garbled last line
    return "\n".join(lines)


@FUZZ
@given(text=feature_tables())
def test_any_features_csv_is_read_or_refused_with_our_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / FEATURES_CSV
        path.write_text(text, encoding="utf-8")
        try:
            table = read_features_table(path)
        except MultimodalGenreError as error:
            assert str(path) in str(error) and "\n" not in str(error)
            return
    assert isinstance(table, pd.DataFrame) and len(table) > 0
    assert set(table["label"]) <= set(GENRES)
    assert not table["filename"].str.contains("/").any()


@FUZZ
@given(content=st.binary(max_size=200))
def test_any_bytes_as_a_features_csv_are_read_or_refused(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / FEATURES_CSV
        path.write_bytes(content)
        try:
            read_features_table(path)
        except MultimodalGenreError as error:
            assert str(path) in str(error)


def _leaves(data: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not isinstance(data, dict) or not data:
        return [prefix]
    return [leaf for key, value in data.items() for leaf in _leaves(value, (*prefix, key))]


DEFAULT_PATHS = _leaves(config_dict(load_config()))


@st.composite
def config_changes(draw: st.DrawFn) -> dict:
    """A config file's changes: real keys (and a few unknown ones) set to any value."""
    changes: dict = {}
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(DEFAULT_PATHS) | st.lists(st.text(max_size=6), min_size=1, max_size=3).map(tuple))
        if not path:
            continue
        cut = draw(st.integers(1, len(path)))
        node = changes
        for key in path[: cut - 1]:
            node = node.setdefault(key, {}) if isinstance(node.get(key, {}), dict) else {}
        node[path[cut - 1]] = draw(values)
    return changes


@FUZZ
@given(changes=config_changes())
def test_any_config_file_gives_a_valid_config_or_our_error(changes: dict) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(yaml.safe_dump(changes, allow_unicode=True))
        try:
            config = load_config(path)
        except MultimodalGenreError as error:
            assert str(path) in str(error) and "\n" not in str(error)
            return
    assert isinstance(config, Config)
    assert load_run_config(_written(config_dict(config))) == config  # what it reads, it writes back the same


def _written(data: dict) -> Path:
    path = Path(tempfile.mkdtemp()) / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@FUZZ
@given(text=st.text(max_size=200))
def test_any_text_as_a_config_file_gives_a_config_or_our_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            assert isinstance(load_config(path), Config)
        except MultimodalGenreError as error:
            assert str(path) in str(error)


@st.composite
def damaged_records(draw: st.DrawFn, record: dict) -> dict:
    """A run record with some fields dropped or set to other values, at any depth."""
    damaged = json.loads(json.dumps(record))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_leaves(damaged)))
        node = damaged
        for key in path[:-1]:
            node = node[key]
        if not path or not isinstance(node, dict):
            continue
        if draw(st.booleans()):
            node.pop(path[-1], None)
        else:
            node[path[-1]] = draw(values)
    return damaged


def test_any_run_record_is_read_or_refused_with_our_error(comparison) -> None:
    record = json.loads((comparison.directory / "mlp" / RUN_FILE).read_text())

    @FUZZ
    @given(damaged=damaged_records(record))
    def check(damaged: dict) -> None:
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / RUN_FILE).write_text(json.dumps(damaged))
            try:
                assert isinstance(read_record(Path(folder)), RunRecord)
            except MultimodalGenreError as error:
                assert str(Path(folder) / RUN_FILE) in str(error) and "\n" not in str(error)

    check()


def test_hostile_track_names_never_reach_a_path_or_the_page_unescaped(dataset_copy, tmp_path, capsys) -> None:
    """A CSV row named like markup is read (its image is missing, so it is left out and named in the
    summary); one with path parts is refused. Neither writes outside the folders it was given."""
    table = pd.read_csv(dataset_copy / FEATURES_CSV)
    table.loc[0, "filename"] = "<img src=x onerror=alert(1)>.wav"
    table.to_csv(dataset_copy / FEATURES_CSV, index=False)
    out = tmp_path / "summary"
    assert main(["data", "summary", "--data", str(dataset_copy)]) == 0
    assert "<img src=x onerror=alert(1)>.wav" in capsys.readouterr().out  # named among the dropped rows

    table.loc[0, "filename"] = "../../outside.wav"
    table.to_csv(dataset_copy / FEATURES_CSV, index=False)
    assert main(["data", "summary", "--data", str(dataset_copy)]) == 2
    assert "filename '../../outside.wav' is not an audio file name" in capsys.readouterr().err
    assert not out.exists() and not (dataset_copy.parent / "outside.png").exists()
