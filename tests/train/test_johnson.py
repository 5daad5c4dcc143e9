import pytest
import torch
from torch import nn

from nst.errors import InputError
from nst.train.models import build_model, family_entry
from nst.train.models.johnson import JohnsonConfig, JohnsonNet


@pytest.mark.parametrize("shape", [(1, 3, 97, 131), (2, 3, 16, 17), (1, 3, 64, 64)])
def test_any_size_in_same_size_out_in_unit_range(shape: tuple[int, ...]) -> None:
    net = JohnsonNet(JohnsonConfig(base_channels=4, num_residual=1)).eval()
    with torch.no_grad():
        out = net(torch.rand(*shape))
    assert out.shape == shape
    assert out.min() >= 0 and out.max() <= 1


def test_paper_layout() -> None:
    net = JohnsonNet()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size[0] for c in (convs[0], convs[-1])] == [9, 9]
    assert [c.stride[0] for c in convs[1:3]] == [2, 2]
    assert len(net.residuals) == 5
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in net.modules())  # upsample + conv
    assert sum(isinstance(m, nn.Upsample) for m in net.modules()) == 2
    assert all(isinstance(m, nn.InstanceNorm2d) for m in net.modules() if "Norm" in type(m).__name__)
    # Johnson et al. report ~1.68M parameters for this transformer
    assert 1.6e6 < sum(p.numel() for p in net.parameters()) < 1.7e6


def test_slim_variant_is_a_config() -> None:
    slim = build_model("johnson", {"base_channels": 16, "num_residual": 3})
    assert 2.5e5 < sum(p.numel() for p in slim.parameters()) < 3e5  # ~1/6 of the paper net


def test_unknown_family_and_config_key_are_errors() -> None:
    with pytest.raises(InputError, match="did you mean 'johnson'"):
        family_entry("jonson")
    with pytest.raises(InputError, match="did you mean 'num_residual'"):
        build_model("johnson", {"num_residuals": 3})
    with pytest.raises(InputError):
        JohnsonConfig(base_channels=0)
