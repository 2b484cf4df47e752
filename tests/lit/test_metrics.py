import math

import pytest
import torch

from lightning_pose_arch.lit.metrics import (
    PCK,
    MatchedMeanPixelError,
    MatchedMissRate,
    MatchedRootMeanSquareError,
    MeanPixelError,
    RootMeanSquareError,
    match_individuals,
)


def case() -> tuple[torch.Tensor, torch.Tensor]:
    target = torch.tensor([[[[0.0, 0.0, 2], [10.0, 10.0, 2], [5.0, 5.0, 0]]]])
    preds = torch.tensor([[[[3.0, 4.0, 0.9], [10.0, 10.0, 0.8], [500.0, 500.0, 0.1]]]])  # errors 5, 0, (ignored)
    return preds, target


def test_mean_pixel_error_rmse_pck_exact() -> None:
    preds, target = case()
    assert MeanPixelError()(preds, target).item() == pytest.approx(2.5)
    assert RootMeanSquareError()(preds, target).item() == pytest.approx(math.sqrt(12.5))
    assert PCK(threshold=4.0)(preds, target).item() == pytest.approx(0.5)
    assert PCK(threshold=5.0)(preds, target).item() == pytest.approx(1.0)


def test_accumulates_over_batches_by_keypoint_count() -> None:
    metric = MeanPixelError()
    preds, target = case()
    metric.update(preds, target)  # distances 5, 0
    metric.update(torch.tensor([[[[1.0, 0.0, 1.0]]]]), torch.tensor([[[[0.0, 0.0, 2.0]]]]))  # distance 1
    assert metric.compute().item() == pytest.approx(2.0)


def test_bad_threshold() -> None:
    with pytest.raises(ValueError, match="threshold"):
        PCK(threshold=0)


def test_nothing_detected_gives_nan_not_a_perfect_score() -> None:
    target = torch.tensor([[[[10.0, 10.0, 2.0], [20.0, 20.0, 2.0]]]])
    metric = MatchedMeanPixelError()
    metric.update(torch.zeros(1, 3, 2, 3), target)  # three empty prediction slots
    assert torch.isnan(metric.compute()) and metric.num_unmatched == 1


def one_found_one_missed() -> tuple[torch.Tensor, torch.Tensor]:
    """One animal: keypoint 0 found 1 px off, keypoint 1 (at 30, 40: 50 px from the origin) not found."""
    target = torch.tensor([[[[10.0, 10.0, 2.0], [30.0, 40.0, 2.0]]]])
    preds = torch.tensor([[[[11.0, 10.0, 0.9], [0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]])
    return preds, target


def test_matched_errors_leave_out_missed_keypoints_and_count_them() -> None:
    """Before the fix the miss was scored as a prediction at (0, 0): 25.5 px mean, 35.36 px RMSE."""
    preds, target = one_found_one_missed()
    mean_error, rmse, miss_rate = MatchedMeanPixelError(), MatchedRootMeanSquareError(), MatchedMissRate()
    assert mean_error(preds, target).item() == 1.0
    assert rmse(preds, target).item() == 1.0
    assert miss_rate(preds, target).item() == 0.5
    assert mean_error.num_missed.item() == 1 and mean_error.num_unmatched.item() == 0


def test_miss_rate_counts_unmatched_individuals_and_nan_predictions() -> None:
    target = torch.tensor([[[[10.0, 10.0, 2.0], [30.0, 40.0, 2.0]], [[90.0, 90.0, 2.0], [5.0, 5.0, 0.0]]]])
    nan = float("nan")
    preds = torch.tensor([[[[10.0, 12.0, 0.8], [nan, nan, 0.0]]]])  # top-down style: NaN where not found
    miss_rate, mean_error = MatchedMissRate(), MatchedMeanPixelError()
    assert miss_rate(preds, target).item() == pytest.approx(2 / 3)  # animal 1's keypoint 1, animal 2 (unmatched)
    assert mean_error(preds, target).item() == 2.0
    assert mean_error.num_unmatched.item() == 1 and mean_error.num_missed.item() == 2


def test_missing_keypoints_do_not_steer_the_matching() -> None:
    """One prediction, right on animal 0's keypoint 0, missing keypoint 1; animal 1 sits near the origin.

    Scoring the miss as (0, 0) made animal 1 the cheaper match (cost 4 vs 141): matched [[-1, 0]], error 4 px.
    """
    target = torch.tensor([[[[10.0, 10.0, 2.0], [200.0, 200.0, 2.0]], [[13.0, 10.0, 2.0], [3.0, 4.0, 2.0]]]])
    preds = torch.tensor([[[[10.0, 10.0, 0.9], [0.0, 0.0, 0.0]]]])
    assert match_individuals(preds, target).tolist() == [[0, -1]]
    assert MatchedMeanPixelError()(preds, target).item() == 0.0
    assert MatchedMissRate()(preds, target).item() == 0.75
