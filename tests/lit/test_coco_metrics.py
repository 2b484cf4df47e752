import contextlib
import io
import math

import numpy as np
import pytest
import torch

from lightning_pose_arch.lit.coco_metrics import OKSMeanAveragePrecision, keypoint_box_area, oks, pairwise_oks
from lightning_pose_arch.lit.metrics import MatchedMeanPixelError, MatchedRootMeanSquareError, match_individuals

K = 5
SIGMAS = [0.026, 0.05, 0.079, 0.1, 0.107]
STATS = ("map", "map_50", "map_75", "map_medium", "map_large", "mar", "mar_50", "mar_75", "mar_medium", "mar_large")
NP_SLOTS, NT_SLOTS = 24, 5  # more prediction slots than max_detections=20, to exercise the cut


def random_images(seed: int, num_images: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded targets ``[I, 5, K, 3]`` (1-5 individuals, 0-5 in the last image; some unlabeled keypoints;
    padding) and predictions ``[I, 24, K, 3]`` (jittered targets, misses, false positives, empty slots)."""
    rng = np.random.default_rng(seed)
    target = np.zeros((num_images, NT_SLOTS, K, 3))
    preds = np.zeros((num_images, NP_SLOTS, K, 3))
    for i in range(num_images):
        count = rng.integers(0 if i == num_images - 1 else 1, NT_SLOTS + 1)  # the last may have none
        sizes = rng.uniform(15, 160, size=count)  # areas from small through medium to large
        centers = rng.uniform(0, 400, size=(count, 2))
        target[i, :count, :, :2] = centers[:, None] + rng.uniform(-0.5, 0.5, (count, K, 2)) * sizes[:, None, None]
        target[i, :count, :, 2] = rng.choice([0, 1, 2], p=[0.2, 0.2, 0.6], size=(count, K))
        target[i, :count, 0, 2] = 2  # at least one labeled keypoint each
        target[i, :count][target[i, :count, :, 2] == 0] = [np.nan, np.nan, 0]
        slot = 0
        for n in range(count):
            if rng.random() < 0.8:  # the others are missed
                noise = rng.uniform(0, 0.04) * sizes[n]
                preds[i, slot, :, :2] = np.nan_to_num(target[i, n, :, :2], nan=200.0) + rng.normal(0, noise, (K, 2))
                slot += 1
        extra = NP_SLOTS - slot if i == 0 else rng.integers(0, 3)  # false positives
        for _ in range(extra):
            preds[i, slot, :, :2] = rng.uniform(0, 400, 2) + rng.normal(0, 20, (K, 2))
            slot += 1
        preds[i, :slot, :, 2] = rng.uniform(0.05, 1.0, (slot, K))
        preds[i, :slot] = preds[i, rng.permutation(slot)]  # scores are unordered across slots
    return torch.from_numpy(preds), torch.from_numpy(target)


def box_areas(target: np.ndarray) -> np.ndarray:
    """Independent numpy version of the default area: w*h of the labeled keypoints' box (0 if none)."""
    labeled = target[..., 2:] > 0
    xy = np.nan_to_num(target[..., :2])
    size = np.where(labeled, xy, -np.inf).max(axis=-2) - np.where(labeled, xy, np.inf).min(axis=-2)
    return np.where(labeled.any(axis=(-2, -1)), size[..., 0] * size[..., 1], 0.0)


def pycocotools_stats(preds: torch.Tensor, target: torch.Tensor, scores: torch.Tensor, areas: np.ndarray) -> np.ndarray:
    """COCOeval(iouType="keypoints") stats[:10] for the same images (image id = batch index + 1)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt, results = COCO(), []
    gt.dataset = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "animal"}]}
    for i in range(target.shape[0]):
        gt.dataset["images"].append({"id": i + 1})
        for n in range(target.shape[1]):
            kpts = torch.nan_to_num(target[i, n]).numpy()
            if (kpts[:, 2] > 0).any():
                gt.dataset["annotations"].append({
                    "id": len(gt.dataset["annotations"]) + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                    "keypoints": kpts.ravel().tolist(), "num_keypoints": int((kpts[:, 2] > 0).sum()),
                    "area": float(areas[i, n]), "bbox": [0.0, 0.0, 1.0, 1.0],
                })
        for p in range(preds.shape[1]):
            if preds[i, p].any():
                results.append({"image_id": i + 1, "category_id": 1, "score": float(scores[i, p]),
                                "keypoints": preds[i, p].numpy().ravel().tolist()})
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt.createIndex()
        evaluator = COCOeval(gt, gt.loadRes(results), iouType="keypoints")
        evaluator.params.kpt_oks_sigmas = np.array(SIGMAS)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("explicit", [False, True], ids=["default-area-score", "given-area-score"])
def test_matches_pycocotools(seed: int, explicit: bool) -> None:
    pytest.importorskip("pycocotools")
    preds, target = random_images(seed)
    generator = torch.Generator().manual_seed(seed)
    scores, areas = preds[..., 2].mean(-1), None  # the metric's defaults when not given
    if explicit:
        scores = torch.rand(preds.shape[:2], generator=generator, dtype=torch.float64)
        areas = torch.rand(target.shape[:2], generator=generator, dtype=torch.float64) * 20000
    metric = OKSMeanAveragePrecision(sigmas=SIGMAS)
    for half in (slice(0, 3), slice(3, None)):  # two batches accumulate like one
        metric.update(preds[half], target[half], areas=None if areas is None else areas[half],
                      scores=scores[half] if explicit else None)
    ours = metric.compute()
    expected = pycocotools_stats(preds, target, scores, box_areas(target.numpy()) if areas is None else areas.numpy())
    assert expected[0] > 0.05 and expected[5] < 0.95  # a case with misses and false positives
    for name, value in zip(STATS, expected):
        assert ours[name].item() == pytest.approx(value, abs=1e-6), name


def test_prefers_a_regular_ground_truth_to_a_closer_ignored_one() -> None:
    """Two overlapping individuals, medium and large (given areas); the best prediction sits on the
    large one. In the medium range the large one is ignored, yet that prediction must match the
    medium one (OKS above every threshold) rather than the closer ignored one; the second
    prediction, on the medium one, then falls to the ignored one."""
    pytest.importorskip("pycocotools")
    large = two_individuals()[:, 1:]
    target = torch.cat([large + torch.tensor([1.0, 0.0, 0.0]), large], dim=1).double()
    preds = torch.cat([as_predictions(large, score=0.9), as_predictions(target[:, :1], score=0.5)], dim=1)
    areas = torch.tensor([[1600.0, 10000.0]], dtype=torch.float64)
    ours = assert_matches_pycocotools(preds, target, areas)
    assert ours["map_medium"] == 1.0 and ours["map_large"] == 1.0 and ours["map"] == 1.0


def test_equal_oks_goes_to_the_later_ground_truth() -> None:
    """The best prediction is exactly between two individuals (equal OKS): as in pycocotools it takes
    the later one, which leaves the earlier one to the second prediction, sitting on it."""
    pytest.importorskip("pycocotools")
    middle = two_individuals()[:, :1].double()
    shift = torch.tensor([6.0, 0.0, 0.0], dtype=torch.float64)
    target = torch.cat([middle + shift, middle - shift], dim=1)
    preds = torch.cat([as_predictions(middle, score=0.9), as_predictions(target[:, :1], score=0.5)], dim=1)
    ours = assert_matches_pycocotools(preds, target, torch.full((1, 2), 10000.0, dtype=torch.float64))
    assert ours["map_50"] == 1.0 and ours["mar_50"] == 1.0  # the middle prediction has OKS 0.84 with either


def assert_matches_pycocotools(preds: torch.Tensor, target: torch.Tensor, areas: torch.Tensor) -> dict[str, float]:
    ours = OKSMeanAveragePrecision(sigmas=SIGMAS)(preds, target, areas=areas)
    ours = {name: ours[name].item() for name in STATS}
    expected = pycocotools_stats(preds, target, preds[..., 2].mean(-1), areas.numpy())
    assert list(ours.values()) == pytest.approx(expected.tolist(), abs=1e-6)
    return ours


def test_merged_states_equal_one_metric() -> None:
    preds, target = random_images(7)
    whole, first, second = (OKSMeanAveragePrecision(sigmas=SIGMAS) for _ in range(3))
    whole.update(preds, target)
    first.update(preds[:2], target[:2])
    second.update(preds[2:], target[2:])
    first.merge_state(second)
    merged, expected = first.compute(), whole.compute()
    assert all(merged[name].item() == pytest.approx(expected[name].item(), abs=1e-7) for name in STATS)


def two_individuals() -> torch.Tensor:
    """[1, 2, K, 3]: two fully labeled individuals (box areas 40*40 and 120*120)."""
    a = torch.tensor([[10.0, 10.0], [50.0, 10.0], [10.0, 50.0], [50.0, 50.0], [30.0, 30.0]])
    b = torch.tensor([[200.0, 200.0], [320.0, 200.0], [200.0, 320.0], [320.0, 320.0], [260.0, 260.0]])
    return torch.cat([torch.stack([a, b]), torch.full((2, K, 1), 2.0)], dim=-1)[None]


def as_predictions(keypoints: torch.Tensor, score: float = 0.9) -> torch.Tensor:
    return torch.cat([keypoints[..., :2], torch.full_like(keypoints[..., :1], score)], dim=-1)


def test_perfect_predictions_score_one() -> None:
    target = two_individuals()
    result = OKSMeanAveragePrecision()(as_predictions(target.flip(1)), target)
    assert all(result[name].item() == 1.0 for name in ("map", "map_50", "map_75", "mar", "map_large"))
    assert result["map_medium"].item() == 1.0  # the 40*40 individual


def test_no_predictions_score_zero() -> None:
    target = two_individuals()
    result = OKSMeanAveragePrecision()(torch.zeros(1, 3, K, 3), target)
    assert result["map"].item() == 0.0 and result["mar"].item() == 0.0


def test_one_of_two_missing() -> None:
    target = two_individuals()
    preds = torch.zeros(1, 2, K, 3)
    preds[:, 0] = as_predictions(target[:, 0])
    result = OKSMeanAveragePrecision()(preds, target)
    assert result["mar"].item() == 0.5  # half the individuals found, at every threshold
    assert result["map"].item() == pytest.approx(51 / 101)  # precision 1 at recall thresholds 0, 0.01, ..., 0.5
    assert result["map_medium"].item() == 1.0 and result["map_large"].item() == 0.0


def test_no_targets_gives_minus_one_as_pycocotools() -> None:
    result = OKSMeanAveragePrecision()(as_predictions(two_individuals()), torch.zeros(1, 2, K, 3))
    assert result["map"].item() == -1.0 and result["mar"].item() == -1.0


def test_oks_by_hand() -> None:
    target = torch.tensor([[0.0, 0.0, 2.0], [10.0, 0.0, 2.0], [5.0, 5.0, 0.0]])
    preds = torch.tensor([[3.0, 4.0, 1.0], [10.0, 0.0, 1.0], [99.0, 99.0, 1.0]])  # errors 5, 0, (unlabeled)
    sigmas = torch.tensor([0.1, 0.1, 0.1], dtype=torch.float64)
    expected = (math.exp(-25 / 0.04 / 100 / 2) + 1) / 2
    assert oks(preds, target, torch.tensor(100.0), sigmas).item() == pytest.approx(expected, rel=1e-12)
    assert oks(preds, torch.zeros(3, 3), torch.tensor(100.0), sigmas).isnan()  # nothing labeled
    pairs = pairwise_oks(torch.stack([preds, target])[None], target[None, None], torch.full((1, 1), 100.0), sigmas)
    assert pairs.shape == (1, 2, 1) and pairs[0, 1, 0].item() == 1.0
    assert keypoint_box_area(target, target[..., 2] > 0).item() == 0.0  # collinear: zero height


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="sigmas"):
        OKSMeanAveragePrecision(sigmas=[0.1, 0.0])
    with pytest.raises(ValueError, match="max_detections"):
        OKSMeanAveragePrecision(max_detections=0)
    with pytest.raises(ValueError, match="sigmas has 2 values"):
        OKSMeanAveragePrecision(sigmas=[0.1, 0.1]).update(torch.zeros(1, 1, K, 3), two_individuals())
    with pytest.raises(ValueError, match="areas"):
        OKSMeanAveragePrecision().update(torch.zeros(1, 1, K, 3), two_individuals(), areas=torch.ones(1, 3))


def test_swapped_individuals_match_back() -> None:
    target = two_individuals()
    preds = torch.zeros(1, 3, K, 3)  # the empty slot 0 sits at the origin, near individual 0: not a candidate
    preds[:, 1:] = as_predictions(target.flip(1))
    assert match_individuals(preds, target).tolist() == [[2, 1]]
    assert MatchedRootMeanSquareError()(preds, target).item() == 0.0


def test_matched_errors_with_known_offsets() -> None:
    target = two_individuals()
    target[0, 1, 4, 2] = 0  # an unlabeled keypoint: its error does not count
    preds = as_predictions(target.flip(1)).clone()
    preds[0, 1, :, :2] += torch.tensor([3.0, 4.0])  # individual 0 off by 5 px on each of 5 keypoints
    preds[0, 0, 4, :2] += 1000.0  # individual 1's unlabeled keypoint
    assert MatchedRootMeanSquareError()(preds, target).item() == pytest.approx(math.sqrt(25 * 5 / 9))
    assert MatchedMeanPixelError()(preds, target).item() == pytest.approx(25 / 9)


def test_unmatched_targets_are_counted_and_excluded() -> None:
    target = two_individuals()
    preds = torch.zeros(2, 4, K, 3)  # image 0: one prediction (off by 2 px), image 1: none
    preds[0, 3] = as_predictions(target[0, 1])
    preds[0, 3, :, 0] += 2.0
    metric = MatchedRootMeanSquareError()
    metric.update(preds, target.expand(2, -1, -1, -1))
    assert match_individuals(preds, target.expand(2, -1, -1, -1)).tolist() == [[-1, 3], [-1, -1]]
    assert metric.compute().item() == pytest.approx(2.0)
    assert metric.num_unmatched.item() == 3
