"""The FIR resampling ops against NVlabs' upfirdn2d, restated in tests/reference (any layout, odd sizes)."""
import pytest
import torch

from explorer.nn.ops import downsample2d, filter2d, setup_filter, upsample2d
from tests.reference.nvlabs_reference import upfirdn2d

F_DEFAULT = setup_filter()


def _inputs(shape, seed=0):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    return [x, x.contiguous(memory_format=torch.channels_last)]


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 5, 9, 7)])
def test_upsample2d_is_upfirdn_up2(shape):
    for x in _inputs(shape):
        ref = upfirdn2d(x.contiguous(), F_DEFAULT, up=2, pad=(2, 1, 2, 1), gain=4)
        torch.testing.assert_close(upsample2d(x, F_DEFAULT), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("shape", [(2, 3, 17, 17), (1, 4, 10, 13)])
def test_filter2d_pads_like_upfirdn(shape):
    for x in _inputs(shape, seed=1):
        ref = upfirdn2d(x.contiguous(), F_DEFAULT, pad=(1, 1, 1, 1), gain=4)
        out = filter2d(x, F_DEFAULT, padding=1, gain=4.0)
        assert out.shape == ref.shape == (shape[0], shape[1], shape[2] - 1, shape[3] - 1)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("shape", [(2, 3, 16, 16), (1, 2, 8, 12)])
def test_downsample2d_is_upfirdn_down2(shape):
    for x in _inputs(shape, seed=2):
        ref = upfirdn2d(x.contiguous(), F_DEFAULT, down=2, pad=(1, 1, 1, 1))
        torch.testing.assert_close(downsample2d(x, F_DEFAULT), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("op", ["filter_pad1", "filter_pad2", "up", "down", "down_odd"])
def test_fir_gradients_are_their_adjoints_to_second_order(op):
    """R1 and path-length regularisation differentiate the FIR ops twice; both orders match finite differences."""
    f = setup_filter().double()
    fn, shape = {
        "filter_pad1": (lambda x: filter2d(x, f, padding=1, gain=4.0), (1, 2, 6, 5)),
        "filter_pad2": (lambda x: filter2d(x, f, padding=2), (1, 2, 5, 6)),
        "up": (lambda x: upsample2d(x, f), (1, 2, 3, 4)),
        "down": (lambda x: downsample2d(x, f), (1, 2, 6, 8)),
        "down_odd": (lambda x: downsample2d(x, f), (1, 2, 7, 5)),
    }[op]
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))
