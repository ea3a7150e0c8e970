"""Filtered leaky ReLU computes what NVlabs' reference op computes (tests/reference: zero insertion,
full-rate filters, striding) for every layer shape StyleGAN3 designs and for odd ones, in either memory
layout, with the clamp skipped only where it cannot bite."""
from __future__ import annotations

import math

import pytest
import torch

from explorer.nn.filter_design import design_lowpass_filter
from explorer.nn.filtered_lrelu import filtered_lrelu, peak_gain, upsample
from explorer.nn.stylegan3_config import StyleGAN3Config
from tests.reference.nvlabs_sg3_reference import filtered_lrelu as reference


def _layers():
    """Every distinct (up, down, padding, filters) of config-T / config-R at a few resolutions."""
    seen, out = set(), []
    for res, radial in [(16, False), (64, True), (256, False), (256, True), (1024, False)]:
        cfg = StyleGAN3Config.design(res, channel_base=8192, channel_max=4, conv_kernel=1 if radial else 3,
                                     use_radial_filters=radial)
        for s in cfg.layers[:-1]:
            key = (s.up_factor, s.down_factor, s.padding, s.down_radial, s.is_critically_sampled, s.in_size[0] > 300)
            if key not in seen:
                seen.add(key)
                out.append(s)
    return out


def _filters(s):
    fu = design_lowpass_filter(s.up_taps, s.in_cutoff, s.in_half_width * 2, s.tmp_sampling_rate)
    fd = design_lowpass_filter(s.down_taps, s.out_cutoff, s.out_half_width * 2, s.tmp_sampling_rate, radial=s.down_radial)
    return fu, fd


def _check(x, fu, fd, b, up, down, padding, clamp, tol=1e-5):
    theirs = reference(x, fu, fd, b, up, down, padding, gain=math.sqrt(2), slope=0.2, clamp=clamp)
    scale = max(theirs.abs().max().item(), 1)
    for layout in (torch.contiguous_format, torch.channels_last):
        ours = filtered_lrelu(x.contiguous(memory_format=layout), fu, fd, b, up, down, padding,
                              gain=math.sqrt(2), slope=0.2, clamp=clamp)
        assert ours.shape == theirs.shape and (ours - theirs).abs().max().item() <= tol * scale
    return theirs


@pytest.mark.parametrize("spec", _layers(), ids=lambda s: f"{s.name}-{'R' if s.down_radial else 'T'}")
def test_every_designed_layer_shape(spec):
    torch.manual_seed(0)
    fu, fd = _filters(spec)
    n = spec.in_size[0] + spec.conv_kernel - 1
    n = min(n, 96)  # the op is size-generic; keep big layers cheap (their padding and filters are what matter)
    x = torch.randn(2, 3, n, n)
    b = torch.randn(3)
    _check(x, fu, fd, b, spec.up_factor, spec.down_factor, spec.padding, clamp=256)


@pytest.mark.parametrize("up,padding", [(2, (9, 8, 9, 8)), (4, (-6, -9, -6, -9)), (2, (-11, -12, 3, 0)), (2, (0, 3, 14, 2))])
@pytest.mark.parametrize("radial", [False, True])
def test_odd_sizes_paddings_and_an_active_clamp(up, padding, radial):
    torch.manual_seed(1)
    fu = design_lowpass_filter(6 * up, 3, 5, 16 * up)
    fd = design_lowpass_filter(12, 5, 4, 16 * up, radial=radial)
    x = torch.randn(3, 5, 23, 31) * 4
    theirs = _check(x, fu, fd, torch.randn(5), up, 2, padding, clamp=1.5)
    assert theirs.abs().max() > 0.5  # a clamp of 1.5 is reached before the down filter smooths it


def test_torgb_form_without_filters():
    x = torch.randn(1, 2, 9, 9)
    theirs = reference(x, None, None, torch.ones(2), 1, 1, (0, 0, 0, 0), gain=1, slope=1, clamp=0.5)
    ours = filtered_lrelu(x, None, None, torch.ones(2), 1, 1, (0, 0, 0, 0), gain=1, slope=1, clamp=0.5)
    assert torch.allclose(ours, theirs)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_gradients_match_the_reference_in_either_layout(layout):
    """The projector differentiates through the op; an NCHW input (NNPACK's output) must not break that."""
    torch.manual_seed(2)
    fu = design_lowpass_filter(12, 3, 5, 32)
    fd = design_lowpass_filter(12, 5, 4, 32, radial=True)
    x0, b0 = torch.randn(2, 3, 14, 14) * 3, torch.randn(3)
    grads = []
    for op, layout_ in ((reference, torch.contiguous_format), (filtered_lrelu, layout)):
        x, b = x0.clone().contiguous(memory_format=layout_).requires_grad_(), b0.clone().requires_grad_()
        y = op(x, fu, fd, b, 2, 2, (9, 8, 9, 8), gain=math.sqrt(2), slope=0.2, clamp=2.0)
        (y * torch.linspace(-1, 1, y.numel()).reshape(y.shape)).sum().backward()
        grads.append((x.grad, b.grad))
    (gx, gb), (ox, ob) = grads
    assert gx.abs().max() > 0 and torch.allclose(ox, gx, atol=1e-5) and torch.allclose(ob, gb, atol=1e-4)


@pytest.mark.parametrize("up,radial", [(2, False), (4, False), (2, True)])
def test_peak_gain_bounds_every_upsampled_value_and_is_reached(up, radial):
    fu = design_lowpass_filter(6 * up, 3, 5, 16 * up)
    if radial:
        fu = torch.outer(fu, fu)
    g = peak_gain(fu, up, math.sqrt(2))
    x = torch.randn(1, 1, 20, 20).sign()  # +-1: the worst case lines up with some input pattern
    y = upsample(x, fu, up, (0, 0, 0, 0), gain=math.sqrt(2) * up * up)
    assert y.abs().max().item() <= g * (1 + 1e-6)
    worst = fu if fu.ndim == 2 else torch.outer(fu, fu)  # the input that matches one phase's signs reaches it
    sign = worst.flip([0, 1])[::up, ::up].sign()
    hit = upsample(sign[None, None], fu, up, (0, 0, 0, 0), gain=math.sqrt(2) * up * up).abs().max().item()
    assert hit == pytest.approx(g, rel=1e-5)


def test_generator_activations_stay_channels_last_on_the_cpu():
    from tests.helpers.stylegan3_nets import random_stylegan3

    G = random_stylegan3("T", 32)
    seen = {}
    G.synthesis(G.mapping(torch.randn(1, G.z_dim), None), on_layer=lambda i, x, carry: seen.__setitem__(i, x))
    assert len(seen) == G.num_ws and all(x.is_contiguous(memory_format=torch.channels_last) for x in seen.values())
