"""ResNet regressors: torchvision's layout, parameter counts, forward pass, checkpoint loading."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nrc.models.resnet import ResNetRegressor, resnet, resnet18, resnet34

# Written from torchvision's architecture definition (torchvision/models/resnet.py): one line per
# module, "name shape". A bare BatchNorm2d name stands for its five entries (weight, bias,
# running_mean, running_var of that size and a scalar num_batches_tracked).
RESNET18_LAYOUT = """
conv1.weight 64 3 7 7
bn1 64
layer1.0.conv1.weight 64 64 3 3
layer1.0.bn1 64
layer1.0.conv2.weight 64 64 3 3
layer1.0.bn2 64
layer1.1.conv1.weight 64 64 3 3
layer1.1.bn1 64
layer1.1.conv2.weight 64 64 3 3
layer1.1.bn2 64
layer2.0.conv1.weight 128 64 3 3
layer2.0.bn1 128
layer2.0.conv2.weight 128 128 3 3
layer2.0.bn2 128
layer2.0.downsample.0.weight 128 64 1 1
layer2.0.downsample.1 128
layer2.1.conv1.weight 128 128 3 3
layer2.1.bn1 128
layer2.1.conv2.weight 128 128 3 3
layer2.1.bn2 128
layer3.0.conv1.weight 256 128 3 3
layer3.0.bn1 256
layer3.0.conv2.weight 256 256 3 3
layer3.0.bn2 256
layer3.0.downsample.0.weight 256 128 1 1
layer3.0.downsample.1 256
layer3.1.conv1.weight 256 256 3 3
layer3.1.bn1 256
layer3.1.conv2.weight 256 256 3 3
layer3.1.bn2 256
layer4.0.conv1.weight 512 256 3 3
layer4.0.bn1 512
layer4.0.conv2.weight 512 512 3 3
layer4.0.bn2 512
layer4.0.downsample.0.weight 512 256 1 1
layer4.0.downsample.1 512
layer4.1.conv1.weight 512 512 3 3
layer4.1.bn1 512
layer4.1.conv2.weight 512 512 3 3
layer4.1.bn2 512
fc.weight 1000 512
fc.bias 1000
"""

RESNET34_LAYOUT = """
conv1.weight 64 3 7 7
bn1 64
layer1.0.conv1.weight 64 64 3 3
layer1.0.bn1 64
layer1.0.conv2.weight 64 64 3 3
layer1.0.bn2 64
layer1.1.conv1.weight 64 64 3 3
layer1.1.bn1 64
layer1.1.conv2.weight 64 64 3 3
layer1.1.bn2 64
layer1.2.conv1.weight 64 64 3 3
layer1.2.bn1 64
layer1.2.conv2.weight 64 64 3 3
layer1.2.bn2 64
layer2.0.conv1.weight 128 64 3 3
layer2.0.bn1 128
layer2.0.conv2.weight 128 128 3 3
layer2.0.bn2 128
layer2.0.downsample.0.weight 128 64 1 1
layer2.0.downsample.1 128
layer2.1.conv1.weight 128 128 3 3
layer2.1.bn1 128
layer2.1.conv2.weight 128 128 3 3
layer2.1.bn2 128
layer2.2.conv1.weight 128 128 3 3
layer2.2.bn1 128
layer2.2.conv2.weight 128 128 3 3
layer2.2.bn2 128
layer2.3.conv1.weight 128 128 3 3
layer2.3.bn1 128
layer2.3.conv2.weight 128 128 3 3
layer2.3.bn2 128
layer3.0.conv1.weight 256 128 3 3
layer3.0.bn1 256
layer3.0.conv2.weight 256 256 3 3
layer3.0.bn2 256
layer3.0.downsample.0.weight 256 128 1 1
layer3.0.downsample.1 256
layer3.1.conv1.weight 256 256 3 3
layer3.1.bn1 256
layer3.1.conv2.weight 256 256 3 3
layer3.1.bn2 256
layer3.2.conv1.weight 256 256 3 3
layer3.2.bn1 256
layer3.2.conv2.weight 256 256 3 3
layer3.2.bn2 256
layer3.3.conv1.weight 256 256 3 3
layer3.3.bn1 256
layer3.3.conv2.weight 256 256 3 3
layer3.3.bn2 256
layer3.4.conv1.weight 256 256 3 3
layer3.4.bn1 256
layer3.4.conv2.weight 256 256 3 3
layer3.4.bn2 256
layer3.5.conv1.weight 256 256 3 3
layer3.5.bn1 256
layer3.5.conv2.weight 256 256 3 3
layer3.5.bn2 256
layer4.0.conv1.weight 512 256 3 3
layer4.0.bn1 512
layer4.0.conv2.weight 512 512 3 3
layer4.0.bn2 512
layer4.0.downsample.0.weight 512 256 1 1
layer4.0.downsample.1 512
layer4.1.conv1.weight 512 512 3 3
layer4.1.bn1 512
layer4.1.conv2.weight 512 512 3 3
layer4.1.bn2 512
layer4.2.conv1.weight 512 512 3 3
layer4.2.bn1 512
layer4.2.conv2.weight 512 512 3 3
layer4.2.bn2 512
fc.weight 1000 512
fc.bias 1000
"""


BN_ENTRIES = ("weight", "bias", "running_mean", "running_var")


def expand(layout: str) -> dict[str, tuple[int, ...]]:
    """The state-dict keys and shapes that a layout listing stands for."""
    out: dict[str, tuple[int, ...]] = {}
    for line in layout.strip().splitlines():
        name, *dims = line.split()
        shape = tuple(int(d) for d in dims)
        if name.endswith((".weight", ".bias")):
            out[name] = shape
        else:
            out |= {f"{name}.{entry}": shape for entry in BN_ENTRIES}
            out[f"{name}.num_batches_tracked"] = ()
    return out


@pytest.mark.parametrize(
    ("name", "layout", "n_params"),
    [("resnet18", RESNET18_LAYOUT, 11_689_512), ("resnet34", RESNET34_LAYOUT, 21_797_672)],
)
def test_state_dict_matches_torchvision_layout(name: str, layout: str, n_params: int) -> None:
    model = resnet(name, 1000)
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert got == expand(layout)
    assert list(got) == list(expand(layout))  # same order as torchvision's state dict
    assert sum(p.numel() for p in model.parameters()) == n_params


def test_small_input_variant_changes_only_the_stem() -> None:
    small = {k: tuple(v.shape) for k, v in resnet18(2, small_input=True).state_dict().items()}
    ref = expand(RESNET18_LAYOUT) | {"conv1.weight": (64, 3, 3, 3), "fc.weight": (2, 512)}
    ref["fc.bias"] = (2,)
    assert small == ref


@pytest.mark.parametrize(("small_input", "side"), [(False, 2), (True, 8)])
def test_features_are_pooled_relu_outputs(small_input: bool, side: int) -> None:
    torch.manual_seed(0)
    model = resnet18(3, small_input=small_input).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        h = model.features(x)
        trunk = model.layer4(
            model.layer3(
                model.layer2(model.layer1(model.maxpool(model.relu(model.bn1(model.conv1(x))))))
            )
        )
        y = model(x)
    assert trunk.shape == (2, 512, side, side)
    assert h.shape == (2, 512)
    assert torch.all(h >= 0)
    torch.testing.assert_close(h, trunk.mean(dim=(2, 3)))
    torch.testing.assert_close(y, h @ model.head.weight.T + model.head.bias)
    assert model.head is model.fc


def _bn(x: torch.Tensor, sd: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    """Eval-mode BatchNorm from its definition: (x - mean) / sqrt(var + 1e-5) * weight + bias."""
    shape = (1, -1, 1, 1)
    mean, var = sd[f"{name}.running_mean"].view(shape), sd[f"{name}.running_var"].view(shape)
    scale, shift = sd[f"{name}.weight"].view(shape), sd[f"{name}.bias"].view(shape)
    return (x - mean) / torch.sqrt(var + 1e-5) * scale + shift


def reference_forward(
    sd: dict[str, torch.Tensor], blocks: tuple[int, ...], x: torch.Tensor
) -> torch.Tensor:
    """ResNet forward pass (He et al. 2016, torchvision's ordering) from a state dict alone."""
    x = F.relu(_bn(F.conv2d(x, sd["conv1.weight"], stride=2, padding=3), sd, "bn1"))
    x = F.max_pool2d(x, 3, stride=2, padding=1)
    for i, depth in enumerate(blocks):
        for j in range(depth):
            p = f"layer{i + 1}.{j}"
            stride = 2 if i > 0 and j == 0 else 1
            out = F.relu(
                _bn(F.conv2d(x, sd[f"{p}.conv1.weight"], stride=stride, padding=1), sd, f"{p}.bn1")
            )
            out = _bn(F.conv2d(out, sd[f"{p}.conv2.weight"], padding=1), sd, f"{p}.bn2")
            if f"{p}.downsample.0.weight" in sd:
                x = _bn(
                    F.conv2d(x, sd[f"{p}.downsample.0.weight"], stride=stride),
                    sd,
                    f"{p}.downsample.1",
                )
            x = F.relu(out + x)
    return x.mean(dim=(2, 3)) @ sd["fc.weight"].T + sd["fc.bias"]


@pytest.mark.parametrize(
    ("factory", "blocks"), [(resnet18, (2, 2, 2, 2)), (resnet34, (3, 4, 6, 3))]
)
def test_forward_matches_float64_reference(factory, blocks: tuple[int, ...]) -> None:
    torch.manual_seed(1)
    model = factory(2)
    with torch.no_grad():  # non-trivial BatchNorm statistics so that every BN term matters
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    model = model.double().eval()
    x = torch.randn(2, 3, 48, 48, dtype=torch.float64)
    with torch.no_grad():
        got = model(x)
    want = reference_forward({k: v.double() for k, v in model.state_dict().items()}, blocks, x)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_load_pretrained_replaces_only_the_head(tmp_path) -> None:
    torch.manual_seed(2)
    imagenet = resnet18(1000)
    path = tmp_path / "resnet18.pth"
    torch.save(imagenet.state_dict(), path)
    model = resnet18(2)
    head_before = model.fc.weight.detach().clone()
    assert model.load_pretrained(path) == ["fc.weight", "fc.bias"]
    for key, value in model.state_dict().items():
        if not key.startswith("fc."):
            torch.testing.assert_close(value, imagenet.state_dict()[key], rtol=0, atol=0)
    torch.testing.assert_close(model.fc.weight, head_before, rtol=0, atol=0)

    small = resnet18(1000, small_input=True)
    assert small.load_pretrained(path) == ["conv1.weight"]
    torch.testing.assert_close(small.layer4[1].conv2.weight, imagenet.layer4[1].conv2.weight)


def test_load_pretrained_rejects_bad_files(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.pth"):
        resnet18(1).load_pretrained(tmp_path / "missing.pth")
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        resnet18(1).load_pretrained(corrupt)
    r34 = tmp_path / "resnet34.pth"
    torch.save(resnet34(1000).state_dict(), r34)
    with pytest.raises(ValueError, match="unexpected keys"):
        resnet18(1).load_pretrained(r34)
    stem = tmp_path / "small.pth"
    torch.save(resnet18(1000, small_input=True).state_dict(), stem)
    with pytest.raises(ValueError, match=r"conv1\.weight"):
        resnet18(1).load_pretrained(stem)


def test_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="unknown ResNet"):
        resnet("resnet50", 1)
    with pytest.raises(ValueError, match="n_outputs"):
        resnet18(0)
    with pytest.raises(ValueError, match="blocks"):
        ResNetRegressor((2, 2, 2), 1)
    with pytest.raises(ValueError, match="batch, 3, H, W"):
        resnet18(1)(torch.zeros(2, 1, 32, 32))


def test_feature_activation_is_the_last_blocks_output_and_keeps_the_layout() -> None:
    """activation ≠ relu changes only the nonlinearity after layer4's last residual sum."""
    torch.manual_seed(0)
    relu = resnet18(2)
    torch.manual_seed(0)
    linear = resnet18(2, activation="none")
    assert list(relu.state_dict()) == list(linear.state_dict())
    linear.load_state_dict(relu.state_dict())
    relu.eval()
    linear.eval()
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        h_linear = linear.features(x)
        assert torch.allclose(relu.features(x), torch.relu(linear.layer4(
            relu.layer3(relu.layer2(relu.layer1(relu.maxpool(relu.relu(relu.bn1(relu.conv1(x)))))))
        )).mean((2, 3)), atol=1e-6)  # fmt: skip
    assert h_linear.min() < 0
    with pytest.raises(ValueError, match="activation"):
        resnet18(2, activation="gelu")
