"""PAFGenerator: field values on hand-made limbs, averaging where limbs overlap, weights, heatmap/locref reuse."""

from __future__ import annotations

import pytest
import torch

from lightning_pose_arch.models.target_generators import TARGET_GENERATORS, HeatmapGaussianGenerator, PAFGenerator
from lightning_pose_arch.models.target_generators.paf import paf_edges

NAN = float("nan")


def targets(keypoints, edges, grid=(8, 10), stride=4.0, paf_width=3.0, **kwargs):
    """PAFGenerator targets for ``keypoints`` given as nested lists ``[B][N][K] = (x, y, visibility)``."""
    keypoints = torch.tensor(keypoints, dtype=torch.float32)
    generator = PAFGenerator(num_heatmaps=keypoints.shape[2], edges=edges, paf_width=paf_width, **kwargs)
    outputs = {"heatmap": torch.zeros(keypoints.shape[0], keypoints.shape[2], *grid),
               "paf": torch.zeros(keypoints.shape[0], 2 * len(generator.edges), *grid)}
    return generator(keypoints, outputs, stride)


def test_horizontal_limb_marks_the_cells_between_its_ends():
    """Cell centers are at 4j + 1.5: within 3 px of y = 10 is row 2 only; x in [10, 30] is columns 3–7."""
    paf = targets([[[(10, 10, 2), (30, 10, 2)]]], edges=[(0, 1)])["paf"]
    assert paf["target"].shape == (1, 2, 8, 10)
    expected = torch.zeros(8, 10)
    expected[2, 3:8] = 1.0
    torch.testing.assert_close(paf["target"][0, 0], expected)  # x component
    assert (paf["target"][0, 1] == 0).all()  # y component
    assert paf["weights"].shape == (1, 2, 1, 1) and (paf["weights"] == 1).all()


def test_diagonal_limb_unit_vector_and_width():
    """Limb (0.9, 0.7) → (14.1, 18.3): direction (0.6, 0.8), 22 px. Within 1 px of its line (and between its
    ends) lie the centers of cells (row, col) (0, 0), (1, 1), (3, 2) and (4, 3) (0, 0.8, 0.8 and 0 px away)."""
    paf = targets([[[(0.9, 0.7, 2), (14.1, 18.3, 2)]]], edges=[(0, 1)], paf_width=1.0)["paf"]["target"][0]
    cells = [(0, 0), (1, 1), (3, 2), (4, 3)]
    marked = torch.zeros(8, 10, dtype=torch.bool)
    marked[tuple(zip(*cells))] = True
    torch.testing.assert_close(paf[0], torch.where(marked, 0.6, 0.0))
    torch.testing.assert_close(paf[1], torch.where(marked, 0.8, 0.0))


def test_edge_direction_sets_the_sign_and_channels_interleave():
    keypoints = [[[(10, 10, 2), (30, 10, 2), (10, 26, 2)]]]
    paf = targets(keypoints, edges=[(1, 0), (0, 2)])["paf"]["target"][0]  # x₀, y₀, x₁, y₁
    assert paf[0, 2, 3:8].tolist() == [-1.0] * 5 and (paf[1] == 0).all()
    assert (paf[2] == 0).all() and paf[3, 3:7, 2].tolist() == [1.0] * 4  # x = 9.5 is 0.5 px off the line


def test_overlapping_limbs_are_averaged():
    """Two individuals' limbs crossing at the center (13.5, 9.5) of cell (2, 3): the mean of (1, 0) and (0, 1)."""
    horizontal = [(1.5, 9.5, 2), (29.5, 9.5, 2)]
    vertical = [(13.5, 1.5, 2), (13.5, 29.5, 2)]
    paf = targets([[horizontal, vertical]], edges=[(0, 1)], paf_width=1.0)["paf"]["target"][0]
    assert paf[:, 2, 3].tolist() == [0.5, 0.5]
    assert paf[:, 2, 5].tolist() == [1.0, 0.0] and paf[:, 5, 3].tolist() == [0.0, 1.0]
    same_limb_twice = targets([[horizontal, horizontal]], edges=[(0, 1)], paf_width=1.0)["paf"]["target"][0]
    assert same_limb_twice[0, 2].tolist() == [1.0] * 8 + [0.0] * 2 and (same_limb_twice[1] == 0).all()


def test_unlabeled_ends_give_no_field_and_zero_weight():
    """Edge (0, 1) is labeled in the first image only (second individual); edge (1, 2) nowhere."""
    keypoints = [
        [[(10, 10, 2), (30, 10, 0), (NAN, NAN, 0)], [(10, 20, 1), (30, 20, 2), (NAN, NAN, 0)]],
        [[(NAN, NAN, 0), (30, 10, 2), (NAN, NAN, 0)], [(10, 20, 2), (NAN, NAN, 0), (5, 5, 2)]],
    ]
    all_targets = targets(keypoints, edges=[(0, 1), (1, 2)])
    assert all_targets["heatmap"]["weights"].flatten().tolist() == [1, 1, 0, 1, 1, 1]  # keypoint 2 of image 0
    paf = all_targets["paf"]
    assert paf["weights"].flatten().tolist() == [1, 1, 0, 0, 0, 0, 0, 0]
    assert torch.isfinite(paf["target"]).all()
    # only the labeled limb, at y = 20: rows 4 and 5 (centers 17.5 and 21.5 px)
    assert paf["target"][0, 0].nonzero()[:, 0].unique().tolist() == [4, 5]
    assert (paf["target"][0, 1:] == 0).all() and (paf["target"][1] == 0).all()


def test_limb_with_both_ends_on_one_point_has_no_field_but_counts_as_labeled():
    paf = targets([[[(10, 10, 2), (10, 10, 2)]]], edges=[(0, 1)])["paf"]
    assert (paf["target"] == 0).all() and (paf["weights"] == 1).all()


def test_heatmap_and_locref_are_the_gaussian_generators():
    keypoints = torch.tensor([[[(10.0, 10.0, 2.0), (30.0, 12.0, 2.0)], [(20.0, 25.0, 1.0), (NAN, NAN, 0.0)]]])
    outputs = {"heatmap": torch.zeros(1, 2, 8, 10), "paf": torch.zeros(1, 2, 8, 10)}
    ours = PAFGenerator(num_heatmaps=2, edges=[(0, 1)], pos_dist_thresh=9.0, locref_std=3.0)(keypoints, outputs, 4.0)
    gaussian = HeatmapGaussianGenerator(num_heatmaps=2, pos_dist_thresh=9.0, locref_std=3.0)(keypoints, outputs, 4.0)
    assert set(ours) == {"heatmap", "locref", "paf"}
    for name in ("heatmap", "locref"):
        for part in ("target", "weights"):
            assert torch.equal(ours[name][part], gaussian[name][part])
    no_locref = PAFGenerator(num_heatmaps=2, edges=[(0, 1)], generate_locref=False)(keypoints, outputs, 4.0)
    assert set(no_locref) == {"heatmap", "paf"}


def test_default_edges_are_the_complete_graph():
    assert PAFGenerator(num_heatmaps=4).edges == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert TARGET_GENERATORS.build(dict(type="PAFGenerator", num_heatmaps=3, edges=[[2, 0]])).edges == [(2, 0)]


@pytest.mark.parametrize("edges", [[(0, 3)], [(1, 1)], [(-1, 0)], [(0, 1, 2)], []])
def test_bad_edges_raise(edges):
    with pytest.raises(ValueError, match="edges|at least one edge"):
        PAFGenerator(num_heatmaps=3, edges=edges)
    with pytest.raises(ValueError, match="PAFGenerator"):
        paf_edges(edges, 3, where="PAFGenerator")


def test_bad_width_and_channel_count_raise():
    with pytest.raises(ValueError, match="paf_width"):
        PAFGenerator(num_heatmaps=2, paf_width=0)
    generator = PAFGenerator(num_heatmaps=3, edges=[(0, 1), (1, 2)])
    outputs = {"heatmap": torch.zeros(1, 3, 4, 4), "paf": torch.zeros(1, 2, 4, 4)}
    with pytest.raises(ValueError, match="2 edges need 4 paf channels, got 2"):
        generator(torch.zeros(1, 1, 3, 3), outputs, 4.0)
