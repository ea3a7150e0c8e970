"""The hand-written gradients of the training ops: exact to the formulas they replace, to second order
(R1 and path-length regularisation differentiate them twice)."""
import math

import pytest
import torch
import torch.nn.functional as F

from explorer.nn.ops import bias_act


def reference_bias_act(x, b, act, gain, clamp):
    """NVlabs' order, written with plain autograd ops."""
    y = x + b.reshape([1, -1] + [1] * (x.ndim - 2))
    if act == "lrelu":
        y, gain = F.leaky_relu(y, 0.2), gain * math.sqrt(2)
    y = y * gain
    return y.clamp(-clamp, clamp) if clamp is not None else y


@pytest.mark.parametrize("act,gain,clamp,shape", [("lrelu", 1.0, None, (3, 4, 5, 6)), ("lrelu", math.sqrt(0.5), 1.5, (2, 3, 4, 4)),
                                                   ("linear", 1.0, 1.0, (2, 3, 4, 4)), ("lrelu", 1.0, None, (5, 7))])
def test_bias_act_gradients_match_autograd_of_the_formula(act, gain, clamp, shape):
    torch.manual_seed(0)
    x = (torch.randn(shape, dtype=torch.float64) * 2).requires_grad_(True)
    b = torch.randn(shape[1], dtype=torch.float64, requires_grad=True)
    y, y_ref = bias_act(x, b, act, gain, clamp), reference_bias_act(x, b, act, gain, clamp)
    assert torch.equal(y, y_ref)
    if clamp is not None:
        assert (y.abs() == clamp).any() and (y.abs() < clamp).any()   # both sides of the clamp are exercised
    dy = torch.randn_like(y)
    grads = torch.autograd.grad(y, (x, b), dy)
    grads_ref = torch.autograd.grad(y_ref, (x, b), dy)
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, rtol=1e-12, atol=1e-12)
    # away from the kinks the op is smooth: finite differences agree to second order
    x_smooth = (torch.rand(shape, dtype=torch.float64) * 0.4 + 0.05).requires_grad_(True)   # inside (0, clamp)
    fn = lambda x_, b_: bias_act(x_, b_ * 0.01, act, gain, clamp)
    assert torch.autograd.gradcheck(fn, (x_smooth, b))
    assert torch.autograd.gradgradcheck(fn, (x_smooth, b))


def test_bias_act_second_order_through_a_penalty_matches_autograd():
    """The R1 pattern: grad wrt the input with create_graph, then a penalty on it backpropagated to weights."""
    torch.manual_seed(1)
    w = torch.randn(4, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    out = []
    for f in (lambda z: bias_act(z, b, "lrelu", 1.0, 2.0), lambda z: reference_bias_act(z, b, "lrelu", 1.0, 2.0)):
        y = f(F.conv2d(x, w, padding=1))
        (gx,) = torch.autograd.grad((y * y).sum(), x, create_graph=True)
        out.append(torch.autograd.grad(gx.square().sum(), (w, b)))
    for g, g_ref in zip(*out):
        torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-10)
