"""PredictionWriter's merge of per-process predictions (the DDP run itself: tests/test_distributed.py)."""

from __future__ import annotations

import torch

from lightning_pose_arch.inference.writer import collect_predictions, merge_by_index


def batch(indices: list[int]) -> dict:
    """A predict_step result whose keypoints hold the dataset index, for frames ``indices``."""
    keypoints = torch.tensor(indices, dtype=torch.float32)[:, None, None, None].expand(-1, 1, 2, 3)
    return {"keypoints": keypoints, "image_path": [f"img{i}.png" for i in indices]}


def test_interleaved_and_padded_shards_merge_to_one_row_per_frame_in_dataset_order() -> None:
    """A padding sampler over 5 frames on 2 processes: rank 0 gets 0, 2, 4; rank 1 gets 1, 3 and 0 again."""
    rank0 = collect_predictions([batch([0, 2]), batch([4])], [[[0, 2], [4]]])
    rank1 = collect_predictions([batch([1, 3]), batch([0])], [[[1, 3], [0]]])
    merged = merge_by_index([rank0, rank1])
    assert merged["index"].tolist() == [0, 1, 2, 3, 4]
    assert merged["image_path"] == [f"img{i}.png" for i in range(5)]
    assert merged["keypoints"][:, 0, 0, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_without_recorded_indices_rows_keep_their_order() -> None:
    collected = collect_predictions([[batch([7, 5]), batch([6])]], [[]])  # nested per dataloader, no indices
    assert collected["index"].tolist() == [0, 1, 2]
    assert collected["image_path"] == ["img7.png", "img5.png", "img6.png"]
    assert collected["keypoints"].shape == (3, 1, 2, 3)
