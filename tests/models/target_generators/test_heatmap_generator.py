"""Heatmap target generators: exact targets on hand-made cases, missing keypoints, multi-animal."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lightning_pose_arch.models.target_generators import (
    TARGET_GENERATORS,
    HeatmapGaussianGenerator,
    HeatmapPlateauGenerator,
)

NAN = float("nan")


def make_targets(generator, keypoints, height: int, width: int, stride: float):
    """Run ``generator`` on ``keypoints [B, N, K, 3]`` for a ``height × width`` heatmap output."""
    keypoints = torch.as_tensor(keypoints, dtype=torch.float32)
    batch, _, num_kpts, _ = keypoints.shape
    outputs = {"heatmap": torch.zeros(batch, num_kpts, height, width)}
    return generator(keypoints, outputs, stride)


def reference_targets(keypoints: np.ndarray, height: int, width: int, stride: float, pos_dist_thresh: float,
                      locref_std: float, plateau: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loop-by-loop heatmap, locref and locref weights (independent of the package's code)."""
    batch, num_ind, num_kpts, _ = keypoints.shape
    sigma = 2.0 / 3.0 * pos_dist_thresh
    heatmap = np.zeros((batch, num_kpts, height, width))
    locref = np.zeros((batch, 2 * num_kpts, height, width))
    locref_w = np.zeros((batch, 2 * num_kpts, height, width))
    for b in range(batch):
        for k in range(num_kpts):
            for row in range(height):
                for col in range(width):
                    cx, cy = (col + 0.5) * stride - 0.5, (row + 0.5) * stride - 0.5
                    best = None
                    for n in range(num_ind):
                        x, y, vis = keypoints[b, n, k]
                        if vis <= 0:
                            continue
                        d2 = (x - cx) ** 2 + (y - cy) ** 2
                        value = float(d2 <= pos_dist_thresh**2) if plateau else math.exp(-d2 / (2 * sigma**2))
                        heatmap[b, k, row, col] = max(heatmap[b, k, row, col], value)
                        if best is None or d2 < best[0]:
                            best = (d2, x - cx, y - cy)
                    if best is not None and best[0] <= pos_dist_thresh**2:
                        locref[b, 2 * k, row, col] = best[1] / locref_std
                        locref[b, 2 * k + 1, row, col] = best[2] / locref_std
                        locref_w[b, 2 * k: 2 * k + 2, row, col] = 1.0
    return heatmap, locref, locref_w


# --- exact values on a hand-made case -----------------------------------------------------------


def test_gaussian_keypoint_on_cell_center():
    # stride 4: cell (row 2, col 3) has its center at x = 3.5*4 - 0.5 = 13.5, y = 2.5*4 - 0.5 = 9.5
    generator = HeatmapGaussianGenerator(num_heatmaps=1, pos_dist_thresh=6, locref_std=2.0)  # sigma = 4
    targets = make_targets(generator, [[[[13.5, 9.5, 2]]]], 8, 8, stride=4)
    heatmap = targets["heatmap"]["target"][0, 0]
    assert heatmap.shape == (8, 8)
    assert heatmap[2, 3].item() == pytest.approx(1.0)
    assert heatmap.argmax().item() == 2 * 8 + 3
    assert heatmap[2, 4].item() == pytest.approx(math.exp(-16 / (2 * 16)))  # one cell right: d = 4
    assert heatmap[1, 3].item() == pytest.approx(math.exp(-0.5))  # one cell up
    assert heatmap[3, 4].item() == pytest.approx(math.exp(-1.0))  # diagonal: d² = 32
    assert heatmap[2, 1].item() == pytest.approx(math.exp(-2.0))  # two cells left: d² = 64
    assert targets["heatmap"]["weights"].shape == (1, 1, 1, 1)
    assert targets["heatmap"]["weights"].item() == 1.0


def test_gaussian_sigma_is_two_thirds_of_pos_dist_thresh():
    for thresh in (3.0, 17.0):
        generator = HeatmapGaussianGenerator(num_heatmaps=1, pos_dist_thresh=thresh, generate_locref=False)
        # keypoint at image x = 0.5*4 - 0.5 = 1.5 (cell 0); cell 5 is 20 px away
        heatmap = make_targets(generator, [[[[1.5, 1.5, 2]]]], 1, 6, stride=4)["heatmap"]["target"]
        sigma = 2.0 / 3.0 * thresh
        assert heatmap[0, 0, 0, 5].item() == pytest.approx(math.exp(-400 / (2 * sigma**2)), rel=1e-5)


def test_locref_values_by_hand():
    generator = HeatmapGaussianGenerator(num_heatmaps=1, pos_dist_thresh=6, locref_std=2.0)
    targets = make_targets(generator, [[[[13.5, 9.5, 2]]]], 8, 8, stride=4)
    locref, weights = targets["locref"]["target"][0], targets["locref"]["weights"][0]
    assert locref.shape == weights.shape == (2, 8, 8)
    # the keypoint's own cell: zero offset, weight 1
    assert locref[:, 2, 3].tolist() == [0.0, 0.0] and weights[:, 2, 3].tolist() == [1.0, 1.0]
    # cell (2, 4), center (17.5, 9.5): offset ((13.5 - 17.5) / 2, 0)
    assert locref[:, 2, 4].tolist() == pytest.approx([-2.0, 0.0])
    # cell (3, 4), center (17.5, 13.5), d = 5.66 <= 6: offset (-2, -2)
    assert locref[:, 3, 4].tolist() == pytest.approx([-2.0, -2.0])
    assert weights[:, 3, 4].tolist() == [1.0, 1.0]
    # cell (1, 2), center (9.5, 5.5): offset (2, 2)
    assert locref[:, 1, 2].tolist() == pytest.approx([2.0, 2.0])
    # cell (2, 5): d = 8 > 6 → outside, zero target and weight
    assert locref[:, 2, 5].tolist() == [0.0, 0.0] and weights[:, 2, 5].tolist() == [0.0, 0.0]
    assert weights.sum().item() == 2 * 9  # the 3×3 cells around the keypoint


def test_locref_sub_pixel_keypoint():
    generator = HeatmapGaussianGenerator(num_heatmaps=1, pos_dist_thresh=6, locref_std=2.0)
    targets = make_targets(generator, [[[[10.0, 7.0, 2]]]], 8, 8, stride=4)
    # nearest cell (2, 3) with center (13.5, 9.5): offset (-3.5, -2.5) / 2
    assert targets["locref"]["target"][0, :, 2, 3].tolist() == pytest.approx([-1.75, -1.25])
    assert targets["heatmap"]["target"][0, 0, 2, 3].item() == pytest.approx(math.exp(-(3.5**2 + 2.5**2) / 32))


def test_locref_channels_are_interleaved_per_keypoint():
    generator = HeatmapGaussianGenerator(num_heatmaps=2, pos_dist_thresh=6, locref_std=1.0)
    # keypoint 0 at cell (0, 0) center shifted by (+1, 0); keypoint 1 at cell (0, 0) shifted by (0, -1)
    targets = make_targets(generator, [[[[2.5, 1.5, 2], [1.5, 0.5, 2]]]], 4, 4, stride=4)
    assert targets["locref"]["target"][0, :, 0, 0].tolist() == pytest.approx([1.0, 0.0, 0.0, -1.0])


@pytest.mark.parametrize("plateau", [False, True], ids=["gaussian", "plateau"])
def test_matches_loop_reference(plateau):
    torch.manual_seed(0)
    stride, height, width = 4, 6, 7
    keypoints = torch.rand(2, 3, 4, 3) * torch.tensor([width * stride, height * stride, 1.0])
    keypoints[..., 2] = torch.tensor([[2, 0, 1, 2], [2, 2, 0, 0], [0, 0, 0, 2]], dtype=torch.float32)
    keypoints[1, 1, 2, :2] = NAN  # unlabeled coordinates may be NaN
    cls = HeatmapPlateauGenerator if plateau else HeatmapGaussianGenerator
    generator = cls(num_heatmaps=4, pos_dist_thresh=7.0, locref_std=3.0)
    targets = make_targets(generator, keypoints, height, width, stride)
    heatmap, locref, locref_w = reference_targets(keypoints.double().numpy(), height, width, stride, 7.0, 3.0, plateau)
    np.testing.assert_allclose(targets["heatmap"]["target"].numpy(), heatmap, atol=1e-5)
    np.testing.assert_allclose(targets["locref"]["target"].numpy(), locref, atol=1e-5)
    np.testing.assert_array_equal(targets["locref"]["weights"].numpy(), locref_w)


# --- plateau ------------------------------------------------------------------------------------


def test_plateau_one_within_radius_zero_outside():
    generator = HeatmapPlateauGenerator(num_heatmaps=1, pos_dist_thresh=4.0, generate_locref=False)
    targets = make_targets(generator, [[[[13.5, 9.5, 2]]]], 8, 8, stride=4)
    heatmap = targets["heatmap"]["target"][0, 0]
    assert set(heatmap.unique().tolist()) == {0.0, 1.0}
    ones = {tuple(ix) for ix in torch.nonzero(heatmap).tolist()}
    # the center cell and its 4 neighbours are exactly 4 px away (inclusive); diagonals (5.66 px) are not
    assert ones == {(2, 3), (1, 3), (3, 3), (2, 2), (2, 4)}
    assert "locref" not in targets


# --- missing keypoints --------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [HeatmapGaussianGenerator, HeatmapPlateauGenerator])
def test_missing_keypoint_has_zero_target_and_weight(cls):
    generator = cls(num_heatmaps=3, pos_dist_thresh=6)
    keypoints = [[[[13.5, 9.5, 2], [NAN, NAN, 0], [5.0, 20.0, 1]]]]  # visible, unlabeled (NaN), occluded
    targets = make_targets(generator, keypoints, 8, 8, stride=4)
    for output in ("heatmap", "locref"):
        for part in ("target", "weights"):
            assert torch.isfinite(targets[output][part]).all(), (output, part)
    assert targets["heatmap"]["weights"].flatten().tolist() == [1.0, 0.0, 1.0]
    assert targets["heatmap"]["target"][0, 1].abs().sum().item() == 0.0
    assert targets["heatmap"]["target"][0, 2].max().item() > 0.5  # occluded (visibility 1) is labeled
    assert targets["locref"]["target"][0, 2:4].abs().sum().item() == 0.0
    assert targets["locref"]["weights"][0, 2:4].abs().sum().item() == 0.0
    assert targets["locref"]["weights"][0, 4:6].sum().item() > 0


def test_missing_in_whole_batch_item():
    generator = HeatmapGaussianGenerator(num_heatmaps=2)
    keypoints = torch.full((2, 3, 2, 3), NAN)
    keypoints[..., 2] = 0
    keypoints[0, 1, 0] = torch.tensor([10.0, 12.0, 2.0])
    targets = make_targets(generator, keypoints, 8, 8, stride=4)
    weights = targets["heatmap"]["weights"]
    assert weights.flatten().tolist() == [1.0, 0.0, 0.0, 0.0]
    assert targets["heatmap"]["target"][1].abs().sum().item() == 0.0
    assert targets["heatmap"]["target"][0, 1].abs().sum().item() == 0.0
    assert targets["locref"]["weights"][1].sum().item() == 0.0


# --- multi-animal -------------------------------------------------------------------------------


def test_multi_animal_heatmap_is_max_over_individuals():
    generator = HeatmapGaussianGenerator(num_heatmaps=2, pos_dist_thresh=8, generate_locref=False)
    individuals = [[[10.0, 10.0, 2], [NAN, NAN, 0]], [[40.0, 20.0, 2], [30.0, 30.0, 2]], [[25.0, 5.0, 1], [0, 0, 0]]]
    together = make_targets(generator, [individuals], 12, 12, stride=4)["heatmap"]
    alone = [make_targets(generator, [[ind]], 12, 12, stride=4)["heatmap"] for ind in individuals]
    expected = torch.stack([a["target"] for a in alone]).amax(dim=0)
    torch.testing.assert_close(together["target"], expected)
    assert together["weights"].flatten().tolist() == [1.0, 1.0]  # labeled in at least one individual
    # the individual alone on keypoint 1 gives the same map as the crowd
    torch.testing.assert_close(together["target"][0, 1], alone[1]["target"][0, 1])


def test_multi_animal_locref_uses_nearest_individual():
    generator = HeatmapGaussianGenerator(num_heatmaps=1, pos_dist_thresh=10, locref_std=1.0)
    # two individuals 12 px apart on one row; cells are 4 px: centers 1.5, 5.5, 9.5, 13.5, 17.5, ...
    keypoints = [[[[6.0, 1.5, 2]], [[18.0, 1.5, 2]]]]
    locref = make_targets(generator, keypoints, 1, 8, stride=4)["locref"]
    offsets_x = locref["target"][0, 0, 0].tolist()
    # centers 1.5 and 5.5 and 9.5 are nearer to x=6; 13.5 and 17.5 and 21.5 and 25.5 to x=18
    assert offsets_x[:3] == pytest.approx([4.5, 0.5, -3.5])
    assert offsets_x[3:7] == pytest.approx([4.5, 0.5, -3.5, -7.5])
    assert offsets_x[7] == 0.0  # 29.5 is 11.5 px from x=18 > 10
    assert locref["weights"][0, 0, 0].tolist() == [1.0] * 7 + [0.0]


def test_unlabeled_individual_is_ignored_even_if_nearer():
    generator = HeatmapGaussianGenerator(num_heatmaps=1, pos_dist_thresh=20, locref_std=1.0)
    # individual 0 is unlabeled but its (stale) coordinates sit exactly on cell 0's center
    keypoints = [[[[1.5, 1.5, 0]], [[9.0, 1.5, 2]]]]
    targets = make_targets(generator, keypoints, 1, 4, stride=4)
    assert targets["locref"]["target"][0, 0, 0, 0].item() == pytest.approx(9.0 - 1.5)
    assert targets["heatmap"]["target"][0, 0, 0, 0].item() < 1.0


# --- shapes, options, errors --------------------------------------------------------------------


def test_output_shapes_and_no_locref_option():
    keypoints = torch.rand(3, 2, 5, 3) * 32
    keypoints[..., 2] = 2
    targets = make_targets(HeatmapGaussianGenerator(num_heatmaps=5), keypoints, 8, 10, stride=4)
    assert targets["heatmap"]["target"].shape == (3, 5, 8, 10)
    assert targets["heatmap"]["weights"].shape == (3, 5, 1, 1)
    assert targets["locref"]["target"].shape == targets["locref"]["weights"].shape == (3, 10, 8, 10)
    no_locref = make_targets(HeatmapGaussianGenerator(num_heatmaps=5, generate_locref=False), keypoints, 8, 10, 4)
    assert set(no_locref) == {"heatmap"}


def test_targets_follow_the_output_device_and_need_no_grad():
    generator = HeatmapGaussianGenerator(num_heatmaps=1)
    outputs = {"heatmap": torch.zeros(1, 1, 4, 4, requires_grad=True)}
    keypoints = torch.tensor([[[[3.0, 3.0, 2.0]]]], dtype=torch.float64)
    targets = generator(keypoints, outputs, 4)
    assert targets["heatmap"]["target"].device == outputs["heatmap"].device
    assert targets["heatmap"]["target"].dtype == torch.float32
    assert not targets["heatmap"]["target"].requires_grad


def test_keypoint_count_mismatch_raises():
    generator = HeatmapGaussianGenerator(num_heatmaps=3)
    with pytest.raises(ValueError, match="num_heatmaps"):
        make_targets(generator, torch.zeros(1, 1, 2, 3), 4, 4, stride=4)


@pytest.mark.parametrize("kwargs", [dict(num_heatmaps=0), dict(num_heatmaps=2, pos_dist_thresh=0),
                                    dict(num_heatmaps=2, locref_std=-1.0)])
def test_invalid_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        TARGET_GENERATORS.build(dict(type="HeatmapGaussianGenerator", **kwargs))
