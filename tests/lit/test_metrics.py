import math

import pytest
import torch

from lightning_pose_arch.lit.metrics import PCK, MatchedMeanPixelError, MeanPixelError, RootMeanSquareError


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
