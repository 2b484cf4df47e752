"""DEKRPredictor: center NMS and threshold, regression, bilinear rescoring, ordering, empty slots."""

from __future__ import annotations

import pytest
import torch

from lightning_pose_arch.models.predictors import PREDICTORS, DEKRPredictor
from lightning_pose_arch.models.predictors.dekr import sample_maps

STRIDE = 4
HEIGHT, WIDTH = 6, 8


def hand_made_outputs() -> dict[str, torch.Tensor]:
    """K=2. Centers: 0.9 at (row 1, col 1), 0.7 beside it, 0.6 at (row 4, col 6), 0.05 at (row 4, col 1).

    Keypoint maps are ramps (map 0: col / 7, map 1: row / 5), so a bilinear score is a grid coordinate.
    """
    heatmap = torch.zeros(1, 3, HEIGHT, WIDTH)
    heatmap[0, 0] = torch.arange(WIDTH) / (WIDTH - 1)
    heatmap[0, 1] = (torch.arange(HEIGHT) / (HEIGHT - 1))[:, None]
    heatmap[0, 2, 1, 1], heatmap[0, 2, 1, 2], heatmap[0, 2, 4, 6], heatmap[0, 2, 4, 1] = 0.9, 0.7, 0.6, 0.05
    offset = torch.zeros(1, 4, HEIGHT, WIDTH)
    offset[0, :, 1, 1] = torch.tensor([1.0, 0.5, -0.25, 2.0])  # in cells: k0 (+1, +0.5), k1 (-0.25, +2)
    offset[0, :, 1, 2] = 100.0  # suppressed center: must not be read
    return {"heatmap": heatmap, "offset": offset}


def test_hand_made_decode():
    keypoints = DEKRPredictor(max_individuals=4)(hand_made_outputs(), STRIDE)["keypoints"]
    assert keypoints.shape == (1, 4, 2, 3)
    # center (row 1, col 1) is image (5.5, 5.5): k0 at (9.5, 7.5) = grid (2, 1.5), k1 at (4.5, 13.5) = grid (1, 3)
    first_found = torch.tensor([[9.5, 7.5, 2 / 7], [4.5, 13.5, 3 / 5]])
    # center (row 4, col 6) is image (25.5, 17.5), zero offsets: grid (6, 4)
    second_found = torch.tensor([[25.5, 17.5, 6 / 7], [25.5, 17.5, 4 / 5]])
    # sorted by mean keypoint score (0.83 before 0.44), not by center score (0.6 vs 0.9)
    torch.testing.assert_close(keypoints[0, 0], second_found)
    torch.testing.assert_close(keypoints[0, 1], first_found)
    assert keypoints[0, 2:].abs().sum() == 0  # the suppressed 0.7 and the 0.05 below threshold


def test_score_with_center_multiplies_keypoint_scores():
    plain = DEKRPredictor(max_individuals=4)(hand_made_outputs(), STRIDE)["keypoints"]
    scaled = DEKRPredictor(max_individuals=4, score_with_center=True)(hand_made_outputs(), STRIDE)["keypoints"]
    torch.testing.assert_close(scaled[0, 0, :, 2], plain[0, 0, :, 2] * 0.6)
    torch.testing.assert_close(scaled[0, 1, :, 2], plain[0, 1, :, 2] * 0.9)
    torch.testing.assert_close(scaled[..., :2], plain[..., :2])


def test_nms_kernel_and_threshold():
    outputs = hand_made_outputs()
    found = lambda predictor: int((predictor(outputs, STRIDE)["keypoints"][..., 2].sum(-1) > 0).sum())  # noqa: E731
    assert found(DEKRPredictor(nms_kernel=3)) == 2
    assert found(DEKRPredictor(nms_kernel=1)) == 3  # no suppression: the 0.7 neighbour counts
    assert found(DEKRPredictor(center_threshold=0.01)) == 3  # the 0.05 counts
    assert found(DEKRPredictor(center_threshold=0.8)) == 1
    assert found(DEKRPredictor(max_individuals=1)) == 1


def test_sigmoid_of_logits_matches_probabilities():
    outputs = hand_made_outputs()
    probabilities = outputs["heatmap"].clamp(1e-4, 1 - 1e-4)
    logits = dict(outputs, heatmap=torch.logit(probabilities))
    expected = DEKRPredictor()({**outputs, "heatmap": probabilities}, STRIDE)["keypoints"]
    torch.testing.assert_close(DEKRPredictor(apply_sigmoid=True)(logits, STRIDE)["keypoints"], expected)


def test_more_slots_than_cells_are_zero_padded():
    heatmap = torch.zeros(2, 2, 2, 2)
    heatmap[0, 1, 0, 0] = 1.0
    outputs = {"heatmap": heatmap, "offset": torch.zeros(2, 2, 2, 2)}
    keypoints = DEKRPredictor(max_individuals=6)(outputs, 8)["keypoints"]
    assert keypoints.shape == (2, 6, 1, 3)
    assert keypoints[0, 0, 0, :2].tolist() == [3.5, 3.5]
    assert keypoints[0, 1:].abs().sum() == 0 and keypoints[1].abs().sum() == 0


def test_batched_equals_one_image_at_a_time():
    generator = torch.Generator().manual_seed(0)
    outputs = {"heatmap": torch.rand(3, 4, 10, 12, generator=generator),
               "offset": torch.randn(3, 6, 10, 12, generator=generator)}
    predictor = DEKRPredictor(max_individuals=5, center_threshold=0.5, nms_kernel=3)
    batched = predictor(outputs, 4)["keypoints"]
    for b in range(3):
        single = predictor({name: value[b:b + 1] for name, value in outputs.items()}, 4)["keypoints"]
        torch.testing.assert_close(batched[b:b + 1], single)
    scores = batched[..., 2].mean(-1)
    assert (scores[:, :-1] >= scores[:, 1:]).all()  # descending instance scores


def test_sample_maps_is_bilinear_on_cell_centers_and_clamps_outside():
    maps = torch.arange(12.0).reshape(1, 1, 3, 4)  # value = 4 row + col
    grid_points = torch.tensor([[0.0, 0.0], [3.0, 2.0], [1.5, 0.5], [-5.0, 1.0], [10.0, 10.0]])
    points = (grid_points + 0.5) * 8 - 0.5  # image pixels at stride 8
    values = sample_maps(maps, points[None, :, None], 8)
    assert values.shape == (1, 5, 1)
    torch.testing.assert_close(values.flatten(), torch.tensor([0.0, 11.0, 3.5, 4.0, 11.0]))


@pytest.mark.parametrize("kwargs", [dict(max_individuals=0), dict(center_threshold=0.0), dict(center_threshold=1.5),
                                    dict(nms_kernel=4), dict(nms_kernel=0)])
def test_bad_arguments_raise(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"DEKRPredictor {name}"):
        PREDICTORS.build(dict(type="DEKRPredictor", **kwargs))


def test_mismatched_outputs_raise():
    with pytest.raises(ValueError, match="offset"):
        DEKRPredictor()({"heatmap": torch.zeros(1, 3, 4, 4), "offset": torch.zeros(1, 6, 4, 4)}, 4)
