"""The time-to-accuracy benchmark's bookkeeping: the figures a closing note quotes come from these functions."""

import importlib.util
import itertools
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "time_to_accuracy.py"


@pytest.fixture(scope="module")
def time_to_accuracy() -> ModuleType:
    spec = importlib.util.spec_from_file_location("time_to_accuracy", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(errors: list[float]) -> list[dict[str, float]]:
    return [{"epoch": i + 1, "seconds": 10.0 * (i + 1), "test_error_px": e} for i, e in enumerate(errors)]


def test_summary_separates_first_reach_from_staying_below(time_to_accuracy: ModuleType) -> None:
    rows = _rows([50.0, 30.0, 40.0, 20.0, 10.0])  # reaches 33.8 at epoch 2, above again at 3, below from 4
    summary = time_to_accuracy.summarize(rows, target=33.8, deadline=35.0)
    assert summary == {"target_px": 33.8, "final_error_px": 10.0, "total_s": 50.0,
                       "reached_epoch": 2, "reached_s": 20.0, "stable_after": False,
                       "stable_from_epoch": 4, "stable_from_s": 40.0,
                       "error_at_deadline_px": 40.0, "deadline_s": 35.0}  # epoch 3 ended before 35 s, epoch 4 after


def test_summary_of_a_run_that_never_reaches_the_target(time_to_accuracy: ModuleType) -> None:
    summary = time_to_accuracy.summarize(_rows([50.0, 40.0]), target=33.8, deadline=5.0)
    assert "reached_epoch" not in summary and "stable_from_epoch" not in summary
    assert summary["error_at_deadline_px"] is None  # no epoch ended by the deadline


# epochs end at 10, 20, 30, ... s; an epoch ending at exactly 30 s is not past a 30 s limit
@pytest.mark.parametrize(("stop_after", "stopped_after_epoch"), [(None, None), (25.0, 3), (30.0, 4)])
def test_clock_stops_after_the_first_epoch_past_the_limit(time_to_accuracy: ModuleType, stop_after: float | None,
                                                          stopped_after_epoch: int | None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    clock_reads = itertools.count(0.0, 10.0)  # fit starts at 0 s, an epoch ends every 10 s
    monkeypatch.setattr(time_to_accuracy.time, "perf_counter", lambda: next(clock_reads))
    clock = time_to_accuracy.EpochClock(stop_after=stop_after)
    trainer = SimpleNamespace(current_epoch=0, callback_metrics={"val/mean_pixel_error": 7.0}, should_stop=False)
    clock.on_fit_start(trainer, pl_module=None)
    while not trainer.should_stop and trainer.current_epoch < 5:
        clock.on_train_epoch_end(trainer, pl_module=None)
        trainer.current_epoch += 1
    assert trainer.should_stop == (stopped_after_epoch is not None)
    assert len(clock.rows) == (stopped_after_epoch or 5)
