"""Backbone weights: offline pretrained=True fails fast and clearly; local weight files load."""

from __future__ import annotations

import time

import huggingface_hub.constants
import pytest
import timm
import torch

from lightning_pose_arch.models.backbones import BACKBONES, HRNet, ResNet


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    """No cached weights, and the hub is offline."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


@pytest.fixture(scope="module")
def resnet50_state_dict() -> dict[str, torch.Tensor]:
    torch.manual_seed(123)
    state = timm.create_model("resnet50").state_dict()
    state["conv1.weight"] = torch.arange(state["conv1.weight"].numel(), dtype=torch.float32).reshape(
        state["conv1.weight"].shape) / 1000.0
    return state


@pytest.mark.timeout(60)
def test_pretrained_true_offline_raises_quickly(empty_hub_cache):
    start = time.monotonic()
    with pytest.raises(RuntimeError) as info:
        ResNet(variant="50", pretrained=True)
    assert time.monotonic() - start < 15
    message = str(info.value)
    assert "pretrained=False" in message
    assert "resnet50" in message


@pytest.mark.timeout(60)
def test_pretrained_true_offline_raises_through_registry(empty_hub_cache):
    with pytest.raises(RuntimeError, match="pretrained=False"):
        BACKBONES.build(dict(type="HRNet", variant="w18", pretrained=True))


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_local_weights_file_is_loaded(tmp_path, resnet50_state_dict, fmt):
    path = tmp_path / f"resnet50.{fmt}"
    if fmt == "pth":
        torch.save(resnet50_state_dict, path)
    else:
        import safetensors.torch

        safetensors.torch.save_file({k: v.contiguous() for k, v in resnet50_state_dict.items()}, str(path))
    backbone = ResNet(variant="50", pretrained=str(path))
    loaded = backbone.model.state_dict()
    assert torch.equal(loaded["conv1.weight"], resnet50_state_dict["conv1.weight"])
    shared = [k for k in loaded if k in resnet50_state_dict]
    assert len(shared) == len(loaded) > 100  # every backbone tensor comes from the file
    for key in shared:
        assert torch.equal(loaded[key], resnet50_state_dict[key]), key


def test_local_weights_path_object_via_registry(tmp_path, resnet50_state_dict):
    path = tmp_path / "weights.pth"
    torch.save(resnet50_state_dict, path)
    backbone = BACKBONES.build(dict(type="ResNet", variant="50", output_stride=16, pretrained=path))
    assert torch.equal(backbone.model.state_dict()["conv1.weight"], resnet50_state_dict["conv1.weight"])
    assert backbone.stride == 16


def test_missing_weights_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere" / "resnet50.safetensors"
    with pytest.raises(FileNotFoundError) as info:
        ResNet(variant="50", pretrained=str(path))
    assert str(path) in str(info.value)


def test_pretrained_false_gives_random_weights():
    torch.manual_seed(0)
    first = ResNet(variant="50").model.state_dict()["conv1.weight"]
    torch.manual_seed(1)
    second = ResNet(variant="50").model.state_dict()["conv1.weight"]
    assert not torch.equal(first, second)


def test_hrnet_high_res_branch_equals_first_fused_channels():
    """``fuse_branches=False`` returns exactly the stride-4 branch that the fused output starts with."""
    fused = HRNet(variant="w18", fuse_branches=True).eval()
    single = HRNet(variant="w18", fuse_branches=False).eval()
    result = single.load_state_dict(fused.state_dict(), strict=False)
    assert not result.missing_keys
    assert all(".fuse_layers." in key for key in result.unexpected_keys)  # unused fusions into low-res branches
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(single(images), fused(images)[:, : single.out_channels])
