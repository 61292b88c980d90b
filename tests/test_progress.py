"""Progress over a whole job: the count and estimate, a line per piece in a log, a bar on a terminal."""

from __future__ import annotations

import io

import pytest

from multimodal_genre import log, progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    """A fake clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_estimate_is_the_pace_so_far_times_what_is_left_and_counts_down():
    clock = Clock()
    job = progress.Job(4, "training", clock=clock)
    assert job.left() is None and job.summary().endswith("estimating the time left")
    clock.now += 90
    job.advance()
    assert job.left() == 270
    assert job.summary() == "1/4 trainings, 1:30 elapsed, about 4:30 left"
    assert job.bar().startswith("[######..................] 1/4 trainings")
    clock.now += 60  # the next piece is under way: the estimate shrinks, it never grows with time
    assert job.left() == 210
    clock.now += 300
    assert job.summary().endswith("taking longer than estimated")


def test_each_model_is_estimated_from_its_own_finished_trainings_or_its_cost_before_any():
    clock = Clock()
    kinds = ["mlp", "fused", "mlp", "fused", "xgboost"]
    job = progress.Job(kinds, "training", costs={"fused": 10, "mlp": 1, "xgboost": 1}, clock=clock)
    clock.now += 6
    job.advance("mlp")
    assert job.left() == 6 + 2 * 60 + 6  # mlp as the first; fused ten times its cost, xgboost once
    clock.now += 100
    job.advance("fused")
    # fused from its own 100 s; xgboost from the cost rate of all finished: 106 s over 11 units
    assert job.left() == pytest.approx(6 + 100 + 106 / 11)
    estimates = []
    for kind, seconds in (("mlp", 5), ("fused", 90), ("xgboost", 3)):
        clock.now += seconds
        job.advance(kind)
        estimates.append(job.left())
    assert estimates[0] > estimates[1] > estimates[2] == 0 and job.summary().endswith("about 0:00 left")


def test_a_job_cannot_have_fewer_than_no_pieces():
    with pytest.raises(ValueError, match="at least 0"):
        progress.Job(-1, "training")


def test_in_a_log_each_piece_of_the_jobs_unit_is_one_line(caplog):
    with caplog.at_level("INFO", logger="multimodal_genre"), progress.job(2, "training"):
        progress.done("member", "fused member 1/5")  # another unit: a piece of a training, not counted
        progress.done("training", "fused fold 1/2")
        progress.done("training", "fused fold 2/2")
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0].startswith("fused fold 1/2 done: 1/2 trainings, 0:00 elapsed, about 0:0")
    assert lines[1].startswith("fused fold 2/2 done: 2/2 trainings") and lines[1].endswith("about 0:00 left")
    assert len(lines) == 2


def test_a_job_inside_another_is_counted_by_the_outer_one(caplog):
    with caplog.at_level("INFO", logger="multimodal_genre"), progress.job(1, "training"):
        with progress.job(3, "member"):
            progress.done("member", "fused member 1/3")
        progress.done("training", "fused hold-out")
    assert [record.getMessage().split(":")[0] for record in caplog.records] == ["fused hold-out done"]


def test_on_a_terminal_the_bar_holds_the_top_row_above_a_scroll_region():
    screen = Terminal()
    with log.to_console(screen), progress.job(2, "training", stream=screen):
        print("Epoch 1/60", file=screen)
        progress.done("training", "mlp fold 1/2")
    written = screen.getvalue()
    assert "\x1b[2;" in written.split("Epoch 1/60")[0]  # the region is set before the job's output
    assert "\x1b7\x1b[1;1H\x1b[2K[############............] 1/2 trainings" in written  # drawn on row 1
    assert "\x1b[r" in written[written.rindex("1/2 trainings") :]  # the whole screen scrolls again at the end
    assert "mlp fold 1/2 done" not in written  # the bar stands in for the line


def test_a_job_of_unknown_length_counts_without_an_estimate():
    job = progress.Job(None, "trial")
    job.advance()
    job.advance()
    assert job.left() is None and job.summary() == "2 trials, 0:00 elapsed" and job.bar() == job.summary()
