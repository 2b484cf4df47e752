"""Benchmark: parameters and CPU forward time of each neck relative to its backbone alone.

For each (backbone, neck) pair, as the recipes in ``experiments/`` use them
plus a few other combinations, counts parameters and times the forward pass
on one 256×256 image (batch 1, ``torch.set_num_threads(1)``, eval mode, no
grad). The backbone and the neck are timed separately in the same process,
interleaved run by run (so load on the machine hits both alike): the neck on
the features the backbone produced. Ratios are neck ÷ backbone; the last
column is (backbone + neck) ÷ backbone, the cost of adding the neck.

Run: ``python benchmarks/necks.py [--repeats 7] [--keypoints 4]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from lightning_pose_arch.models.backbones import BACKBONES
from lightning_pose_arch.models.necks import NECKS
from lightning_pose_arch.models.pose_model import backbone_features

IMAGE_SIZE = 256
TRANSFORMER = dict(type="Transformer", embed_dim=256, depth=4, num_heads=8, mlp_ratio=4.0, out_channels=256)
CASES: list[tuple[str, dict, dict]] = [  # (label, backbone, neck)
    ("HRNet-w18 [1-4] + FPN-128 (recipe)", dict(type="HRNet", variant="w18", fuse_branches=False, out_indices=[1, 2, 3, 4]),
     dict(type="FPN", out_channels=128)),
    ("ResNet-50 [1-4] + FPN-256", dict(type="ResNet", variant="50", out_indices=[1, 2, 3, 4]), dict(type="FPN")),
    ("CSPNeXt-s [2-4] + FPN-128", dict(type="CSPNeXt", variant="s", out_indices=[2, 3, 4]), dict(type="FPN", out_channels=128)),
    ("ResNet-50 + Transformer (recipe)", dict(type="ResNet", variant="50"), TRANSFORMER),
    ("HRNet-w32 fused + Transformer p4", dict(type="HRNet", variant="w32"), dict(TRANSFORMER, patch_size=4)),
    ("CSPNeXt-s + Transformer", dict(type="CSPNeXt", variant="s"), TRANSFORMER),
]


def num_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def interleaved_median_times(fns: list, repeats: int, warmup: int = 2) -> list[float]:
    """Median seconds of each function, the functions called in turn within every repeat."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, fn_times in zip(fns, times):
            start = time.perf_counter()
            fn()
            fn_times.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


@torch.no_grad()
def run_case(backbone_cfg: dict, neck_cfg: dict, num_keypoints: int, repeats: int) -> dict[str, float]:
    torch.manual_seed(0)
    backbone = BACKBONES.build(backbone_cfg).eval()
    channels, strides = backbone_features(backbone)
    neck = NECKS.build(NECKS.get(neck_cfg["type"]).fill_sizes(neck_cfg, channels, strides, num_keypoints)).eval()
    image = torch.randn(1, 3, IMAGE_SIZE, IMAGE_SIZE)
    features = backbone(image)
    output = neck(features)
    assert output.shape[-1] == IMAGE_SIZE // neck.stride and torch.isfinite(output).all()
    backbone_s, neck_s = interleaved_median_times([lambda: backbone(image), lambda: neck(features)], repeats)
    return {"backbone_mparams": num_params(backbone) / 1e6, "neck_mparams": num_params(neck) / 1e6,
            "backbone_ms": backbone_s * 1e3, "neck_ms": neck_s * 1e3, "stride": neck.stride, "channels": neck.out_channels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per module (median)")
    parser.add_argument("--keypoints", type=int, default=4, help="keypoint tokens of the Transformer neck (openfield: 4)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"Necks vs their backbone: batch 1, {IMAGE_SIZE}x{IMAGE_SIZE}, eval, no grad, 1 thread, median of "
          f"{args.repeats} interleaved runs; Transformer with {args.keypoints} keypoint tokens")
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
          f"(load average {os.getloadavg()[0]:.1f})")
    header = (f"{'backbone + neck':<36}{'out':>10}{'bb Mpar':>9}{'neck Mpar':>11}{'params':>8}"
              f"{'bb ms':>9}{'neck ms':>9}{'time':>7}{'(bb+neck)/bb':>14}")
    print(header)
    print("-" * len(header))
    for label, backbone_cfg, neck_cfg in CASES:
        r = run_case(backbone_cfg, neck_cfg, args.keypoints, args.repeats)
        out = f"{r['channels']}@s{r['stride']}"
        print(f"{label:<36}{out:>10}{r['backbone_mparams']:>9.2f}{r['neck_mparams']:>11.2f}"
              f"{r['neck_mparams'] / r['backbone_mparams']:>7.2f}x{r['backbone_ms']:>9.1f}{r['neck_ms']:>9.1f}"
              f"{r['neck_ms'] / r['backbone_ms']:>6.2f}x{(r['backbone_ms'] + r['neck_ms']) / r['backbone_ms']:>13.2f}x")
    print("params, time: neck ÷ backbone alone")


if __name__ == "__main__":
    main()
