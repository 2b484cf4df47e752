"""PartAffinityFieldPredictor: peaks, line integrals, matching, grouping and output layout on hand-made maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lightning_pose_arch.models.predictors import PREDICTORS, PartAffinityFieldPredictor
from lightning_pose_arch.models.predictors.paf import find_peaks, limb_scores, peak_positions
from lightning_pose_arch.models.predictors.paf_assembly import assemble, match_edge


def test_find_peaks_nms_threshold_and_order():
    heatmap = torch.zeros(1, 2, 5, 6)
    heatmap[0, 0, 1, 1] = 0.9
    heatmap[0, 0, 1, 2] = 0.8  # beside a higher cell: suppressed
    heatmap[0, 0, 3, 4] = 0.5
    heatmap[0, 0, 4, 0] = 0.05  # below the threshold
    scores, index, valid = find_peaks(heatmap, nms_kernel=3, threshold=0.1, max_peaks=3)
    assert scores.shape == index.shape == valid.shape == (1, 2, 3)
    assert valid[0, 0].tolist() == [True, True, False] and not valid[0, 1].any()
    assert index[0, 0, :2].tolist() == [1 * 6 + 1, 3 * 6 + 4]
    assert scores[0, 0].tolist() == pytest.approx([0.9, 0.5, 0.0])
    wide_scores, _, _ = find_peaks(heatmap, nms_kernel=7, threshold=0.1, max_peaks=3)
    assert wide_scores[0, 0].tolist() == pytest.approx([0.9, 0.0, 0.0])  # 7×7 window also covers (3, 4)


def test_peak_positions_use_cell_centers_and_locref():
    index = torch.tensor([[[1 * 6 + 2]]])  # row 1, column 2
    assert peak_positions(index, 6, 8.0, None, 7.2801).tolist() == [[[[19.5, 11.5]]]]
    locref = torch.zeros(1, 2, 5, 6)
    locref[0, :, 1, 2] = torch.tensor([0.5, -0.25])
    assert peak_positions(index, 6, 8.0, locref, 4.0).tolist() == [[[[21.5, 10.5]]]]


def uniform_field(direction, height=12, width=24) -> torch.Tensor:
    """``[1, 2, h, w]`` the same vector in every cell."""
    return torch.tensor(direction, dtype=torch.float32)[None, :, None, None].expand(1, 2, height, width).clone()


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize(("direction", "expected"), [((0.6, 0.8), 1.0), ((-0.6, -0.8), -1.0), ((0.8, -0.6), 0.0)])
def test_line_integral_of_a_uniform_field(interpolation, direction, expected):
    """Peaks (2, 3) → (8, 11): unit vector (0.6, 0.8); the field is the same everywhere along it."""
    peaks = torch.tensor([[[[2.0, 3.0]], [[8.0, 11.0]]]])  # [B=1, K=2, P=1, 2]
    score, support = limb_scores(uniform_field(direction), peaks, [(0, 1)], 1.0, 10, interpolation, 0.05)
    assert score.shape == (1, 1, 1, 1)
    assert score.item() == pytest.approx(expected, abs=1e-6)
    assert support.item() == (1.0 if expected == 1.0 else 0.0)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_line_integral_of_a_field_covering_half_the_limb(interpolation):
    """Limb x = 0 → 20 at y = 5 (stride 1): the 10 samples sit on x = 1, 3, …, 19; the field covers x ≤ 10."""
    field = uniform_field((1.0, 0.0))
    field[..., 11:] = 0.0
    peaks = torch.tensor([[[[0.0, 5.0]], [[20.0, 5.0]]]])
    score, support = limb_scores(field, peaks, [(0, 1)], 1.0, 10, interpolation, 0.05)
    assert score.item() == pytest.approx(0.5) and support.item() == pytest.approx(0.5)
    reverse, _ = limb_scores(field, peaks, [(1, 0)], 1.0, 10, interpolation, 0.05)
    assert reverse.item() == pytest.approx(-0.5)


def two_keypoint_outputs(field_columns: slice = slice(None)) -> dict[str, torch.Tensor]:
    """One limb from cell (5, 2) to cell (5, 12) (stride 1), its field (1, 0) on ``field_columns``."""
    heatmap = torch.zeros(1, 2, 12, 24)
    heatmap[0, 0, 5, 2] = 0.9
    heatmap[0, 1, 5, 12] = 0.7
    paf = torch.zeros(1, 2, 12, 24)
    paf[0, 0, :, field_columns] = 1.0
    return {"heatmap": heatmap, "paf": paf}


def test_connected_pair_forms_one_individual_in_a_zeroed_output():
    predictor = PartAffinityFieldPredictor(edges=[(0, 1)], location_refinement=False, max_individuals=3)
    keypoints = predictor(two_keypoint_outputs(), 1.0)["keypoints"]
    assert keypoints.shape == (1, 3, 2, 3)
    assert keypoints[0, 0].tolist() == [[2.0, 5.0, pytest.approx(0.9)], [12.0, 5.0, pytest.approx(0.7)]]
    assert (keypoints[0, 1:] == 0).all()


def test_min_sample_fraction_and_singletons():
    """Field on columns 0–6; the limb 2 → 12 is sampled at x = 2.5, 3.5, …, 11.5, which see 1 up to x = 5.5,
    0.5 at x = 6.5 (bilinear), then 0: score 0.45, support (samples above 0.05) 0.5."""
    outputs = two_keypoint_outputs(slice(0, 7))
    loose = PartAffinityFieldPredictor(edges=[(0, 1)], location_refinement=False, min_sample_fraction=0.5,
                                       min_edge_score=0.44)
    assert (loose(outputs, 1.0)["keypoints"][0, 0, :, 2] > 0).all()
    strict = PartAffinityFieldPredictor(edges=[(0, 1)], location_refinement=False, min_sample_fraction=0.6)
    assert (strict(outputs, 1.0)["keypoints"] == 0).all()  # nothing connects: isolated peaks are dropped
    singletons = PartAffinityFieldPredictor(edges=[(0, 1)], location_refinement=False, min_sample_fraction=0.6,
                                            keep_singletons=True)(outputs, 1.0)["keypoints"][0]
    assert singletons[0].tolist() == [[2.0, 5.0, pytest.approx(0.9)], [0.0, 0.0, 0.0]]  # best first
    assert singletons[1].tolist() == [[0.0, 0.0, 0.0], [12.0, 5.0, pytest.approx(0.7)]]
    high_bar = PartAffinityFieldPredictor(edges=[(0, 1)], location_refinement=False, min_edge_score=0.46)
    assert (high_bar(outputs, 1.0)["keypoints"] == 0).all()


def test_hungarian_maximizes_the_total_greedy_takes_the_best_first():
    scores = np.array([[0.9, 0.8], [0.7, 0.1]])
    valid = np.ones((2, 2), dtype=bool)
    assert sorted(match_edge(scores, valid, "hungarian")) == [(0, 1), (1, 0)]  # 1.5
    assert sorted(match_edge(scores, valid, "greedy")) == [(0, 0), (1, 1)]  # 0.9 + 0.1
    valid[0, 1] = False
    assert sorted(match_edge(scores, valid, "hungarian")) == [(0, 0), (1, 1)]
    assert match_edge(scores, np.zeros((2, 2), dtype=bool), "hungarian") == []
    only_one = np.array([[True, False], [False, False]])
    assert match_edge(scores, only_one, "hungarian") == match_edge(scores, only_one, "greedy") == [(0, 0)]


def test_assembly_never_gives_an_individual_two_peaks_of_one_keypoint():
    """Triangle 0-1-2, two peaks (a, b) each. By descending score: 0a-1a, 1a-2a, then 0b-2a would give
    2a's individual a second keypoint 0, so it is skipped; 0b-1b starts a second individual; 2b is dropped."""
    peak_scores = np.array([[1.0, 0.5], [1.0, 0.5], [1.0, 0.5]])
    edge_scores = np.zeros((3, 2, 2))
    edge_scores[0, 0, 0], edge_scores[0, 1, 1] = 0.9, 0.6  # 0 → 1
    edge_scores[1, 0, 0] = 0.8  # 1 → 2
    edge_scores[2, 1, 0] = 0.7  # 0 → 2: 0b also points at 2a
    individuals = assemble(peak_scores, np.ones((3, 2), dtype=bool), [(0, 1), (1, 2), (0, 2)], edge_scores,
                           edge_scores > 0, "hungarian", keep_singletons=False)
    assert [members.tolist() for members, _ in individuals] == [[0, 0, 0], [1, 1, -1]]
    assert [score for _, score in individuals] == pytest.approx([(3.0 + 1.7) / 5, (1.0 + 0.6) / 3])


@pytest.mark.parametrize(("connections", "expected"), [
    ({(0, 0, 0): 0.9, (1, 0, 0): 0.8, (2, 0, 0): 0.7}, [[0, 0, 0, 0]]),
    ({(0, 0, 0): 0.9, (1, 0, 0): 0.8, (2, 1, 0): 0.75, (3, 0, 0): 0.7}, [[0, 0, -1, -1], [-1, 1, 0, 0]]),
])
def test_assembly_merges_two_individuals_only_when_disjoint(connections, expected):
    """Edges 0-1, 2-3, 1-2, 0-2; ``connections`` ``{(edge, peak of k1, peak of k2): score}``. First, 0a-1a
    and 2a-3a, then 1a-2a merges them. Second, 1b joins 2a-3a, so 0a-2a would give one individual
    two keypoints 1 (1a and 1b): the two stay apart."""
    edge_scores = np.zeros((4, 2, 2))
    for (edge, i, j), score in connections.items():
        edge_scores[edge, i, j] = score
    individuals = assemble(np.ones((4, 2)), np.ones((4, 2), dtype=bool), [(0, 1), (2, 3), (1, 2), (0, 2)],
                           edge_scores, edge_scores > 0, "greedy", keep_singletons=False)
    assert [members.tolist() for members, _ in individuals] == expected


def test_max_individuals_keeps_the_best():
    """Three separate limbs with peak scores 0.5, 0.9, 0.7: two slots keep the 0.9 and 0.7 ones."""
    heatmap = torch.zeros(1, 2, 12, 24)
    paf = torch.zeros(1, 2, 12, 24)
    for row, score in zip((1, 5, 9), (0.5, 0.9, 0.7)):
        heatmap[0, 0, row, 2] = heatmap[0, 1, row, 12] = score
        paf[0, 0, row, 2:13] = 1.0
    keypoints = PartAffinityFieldPredictor(edges=[(0, 1)], location_refinement=False, max_individuals=2)(
        {"heatmap": heatmap, "paf": paf}, 1.0)["keypoints"][0]
    assert keypoints[:, 0, 1].tolist() == [5.0, 9.0]
    assert keypoints[:, :, 2].flatten().tolist() == pytest.approx([0.9, 0.9, 0.7, 0.7])


def test_default_edges_are_the_complete_graph_and_must_fit_the_fields():
    outputs = {"heatmap": torch.zeros(1, 3, 4, 4), "paf": torch.zeros(1, 6, 4, 4)}
    assert PREDICTORS.build(dict(type="PartAffinityFieldPredictor", location_refinement=False))(
        outputs, 4.0)["keypoints"].shape == (1, 10, 3, 3)
    with pytest.raises(ValueError, match="2 edges need 4 paf channels, got 6"):
        PartAffinityFieldPredictor(edges=[(0, 1), (1, 2)], location_refinement=False)(outputs, 4.0)


@pytest.mark.parametrize(("argument", "value"), [
    ("nms_kernel", 4), ("nms_kernel", 0), ("max_peaks_per_keypoint", 0), ("num_samples", 0), ("max_individuals", 0),
    ("locref_std", 0.0), ("min_edge_score", -0.1), ("min_edge_score", 1.0), ("min_sample_fraction", 1.5),
    ("interpolation", "cubic"), ("matching", "random"),
])
def test_bad_arguments_raise_naming_them(argument, value):
    with pytest.raises(ValueError, match=argument):
        PartAffinityFieldPredictor(**{argument: value})
