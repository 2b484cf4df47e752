"""Part affinity field head (OpenPose; DeepLabCut's multi-animal models): heatmaps, locref and limb fields."""

from __future__ import annotations

import copy
from typing import Any


from lightning_pose_arch.models.aggregators.base import BaseAggregator
from lightning_pose_arch.models.criterions.base import BaseCriterion
from lightning_pose_arch.models.criterions.weighted import WeightedHuberCriterion, WeightedMSECriterion
from lightning_pose_arch.models.heads.base import HEADS, HeadInputs
from lightning_pose_arch.models.heads.heatmap import HeatmapHead
from lightning_pose_arch.models.predictors.base import BasePredictor
from lightning_pose_arch.models.target_generators.base import BaseGenerator
from lightning_pose_arch.models.target_generators.paf import paf_edges


@HEADS.register
class PAFHead(HeatmapHead):
    """Keypoint heatmaps, optional locref maps and one part affinity field per skeleton edge.

    ``forward``: features ``[B, C, h', w']`` → ``{"heatmap": [B, K, h, w],
    "paf": [B, 2E, h, w]}`` plus ``"locref": [B, 2K, h, w]`` when the
    predictor uses location refinement; ``h = h' · 2^num_deconv_layers``.
    Edge ``e = edges[e]`` has its field's x in channel ``2e`` and y in
    ``2e + 1``. Each output has its own :class:`DeconvStack` branch (or, with ``share_deconvs``, a conv on the
    heatmap branch's deconvolutions), the
    final convs initialized near zero (std 0.001) as in :class:`HeatmapHead`.
    Train with :class:`~lightning_pose_arch.models.target_generators.PAFGenerator`,
    decode with :class:`~lightning_pose_arch.models.predictors.PartAffinityFieldPredictor`;
    both must use the head's edges, and they share ``locref_std`` and whether
    locref is used as in :class:`HeatmapHead` (set once, the other takes it).

    When built by ``PoseModel``, unset sizes are filled in (:meth:`fill_sizes`):
    input channels, K, and ``edges`` from the data's skeleton or, when the
    data has none, the complete graph over the K keypoints (every pair, as
    in DeepLabCut), copied to the generator and predictor.

    Args:
        predictor: e.g. ``PartAffinityFieldPredictor``; location refinement adds the locref branch.
        target_generator: e.g. ``PAFGenerator``.
        heatmap_config: :class:`DeconvStack` arguments for the heatmap branch.
        criterion: One criterion for every output, or ``{output_name: criterion}``; outputs not
            named get the defaults: weighted MSE for ``"heatmap"`` and ``"paf"``, weighted Huber
            for ``"locref"``.
        aggregator: Combines loss terms (e.g. ``WeightedLossAggregator``); ``None`` sums them.
        locref_config: Locref branch arguments (default: ``heatmap_config`` with 2K outputs).
        paf_config: PAF branch arguments (default: ``heatmap_config`` with 2E outputs).
        edges: Keypoint index pairs, one field each; ``None``: the complete graph over K.
        share_deconvs: As :class:`HeatmapHead`'s: locref and PAF maps are convs on the heatmap deconvolutions.

    Example:
        >>> head = HEADS.build(dict(type="PAFHead", edges=[[0, 1], [1, 2]],
        ...     predictor=dict(type="PartAffinityFieldPredictor", edges=[[0, 1], [1, 2]]),
        ...     target_generator=dict(type="PAFGenerator", num_heatmaps=3, edges=[[0, 1], [1, 2]]),
        ...     heatmap_config=dict(num_input_channels=32, num_output_channels=3, deconv_channels=16)))
        >>> {k: tuple(v.shape) for k, v in head(torch.zeros(2, 32, 8, 8)).items()}
        {'heatmap': (2, 3, 16, 16), 'locref': (2, 6, 16, 16), 'paf': (2, 4, 16, 16)}
    """

    sibling_outputs = ("locref", "paf")

    def __init__(
        self,
        predictor: BasePredictor,
        target_generator: BaseGenerator,
        heatmap_config: dict[str, int],
        criterion: BaseCriterion | dict[str, BaseCriterion] | None = None,
        aggregator: BaseAggregator | None = None,
        locref_config: dict[str, int] | None = None,
        paf_config: dict[str, int] | None = None,
        edges: list[tuple[int, int]] | None = None,
        share_deconvs: bool = False,
    ) -> None:
        super().__init__(predictor, target_generator, with_default_criteria(criterion), heatmap_config, aggregator,
                         locref_config, share_deconvs)
        num_kpts = self.heatmap_branch[-1].out_channels
        self.edges = paf_edges(edges, num_kpts, where="PAFHead")
        generator_edges = getattr(target_generator, "edges", None)
        predictor_edges = paf_edges(getattr(predictor, "edges", None), num_kpts, where="PAFHead predictor")
        if generator_edges != self.edges or predictor_edges != self.edges:
            raise ValueError(f"PAFHead edges, target_generator.edges and predictor.edges must agree, got "
                             f"{self.edges}, {generator_edges} and {predictor_edges}")
        self.paf_branch = self._sibling_branch("paf", heatmap_config, paf_config, 2 * len(self.edges))
        if self.paf_branch[-1].out_channels != 2 * len(self.edges):
            raise ValueError(f"PAFHead paf_config num_output_channels must be 2 × {len(self.edges)} edges, "
                             f"got {self.paf_branch[-1].out_channels}")

    @classmethod
    def fill_from(cls, cfg: dict[str, Any], inputs: HeadInputs) -> dict[str, Any]:
        """As :meth:`HeatmapHead.fill_from`, plus ``edges`` (head, generator, predictor) where unset.

        Edges come from ``inputs.skeleton`` or, without one, the complete graph over
        the heatmap's K keypoints; an ``edges`` set in the head's config is
        copied to a generator and predictor that leave theirs unset.
        """
        cfg = super().fill_from(cfg, inputs)
        num_kpts = cfg["heatmap_config"].get("num_output_channels")
        if "edges" not in cfg and num_kpts is not None:
            edges = paf_edges(inputs.skeleton or None, num_kpts, where="PAFHead skeleton")
            cfg["edges"] = [list(edge) for edge in edges]
        for part in ("target_generator", "predictor"):
            if "edges" in cfg and isinstance(cfg.get(part), dict):
                cfg[part].setdefault("edges", copy.deepcopy(cfg["edges"]))
        return cfg



def with_default_criteria(
    criterion: BaseCriterion | dict[str, BaseCriterion] | None,
) -> BaseCriterion | dict[str, BaseCriterion]:
    """``criterion`` as given when it is one criterion; else a dict with the defaults for outputs it leaves out."""
    if isinstance(criterion, BaseCriterion):
        return criterion
    defaults = {"heatmap": WeightedMSECriterion(), "paf": WeightedMSECriterion(), "locref": WeightedHuberCriterion()}
    return {**defaults, **(criterion or {})}
