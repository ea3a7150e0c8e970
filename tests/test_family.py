"""The generator-family interface (explorer/nn/family.py), as every family must honour it.

Each family in FAMILIES is checked for the contract the renderer, layer viewer, directions and projector rely
on: the layer table matches what synthesis runs, synthesis resumes at any layer from the carry the layer
before left with the very same pixels, carries are never written into, and a w index reaches exactly the
layers its table entry names.
"""
from __future__ import annotations

import pytest
import torch

from explorer.nn.family import style_affine
from explorer.nn.layer_table import LEVELS, level_of_cutoff
from explorer.nn.stylegan1 import Generator as StyleGAN1
from tests.conftest import make_generator
from tests.helpers.stylegan3_nets import random_stylegan3
from tests.test_stylegan1 import make_stylegan1


def fading_stylegan1():
    """A progressive-growing snapshot (lod 0.6): two ToRGBs draw, the last block fades in."""
    G = make_stylegan1(img_resolution=32)
    faded = StyleGAN1(G.cfg.replace(lod=0.6)).eval()
    faded.load_state_dict(G.state_dict())
    return faded.requires_grad_(False)


FAMILIES = {
    "stylegan2-skip": lambda: make_generator(img_resolution=32),
    "stylegan2-resnet": lambda: make_generator(img_resolution=32, architecture="resnet"),
    "stylegan2-orig": lambda: make_generator(img_resolution=32, architecture="orig"),
    "stylegan1": lambda: make_stylegan1(img_resolution=32),
    "stylegan1-fading": fading_stylegan1,
    "stylegan3-t": lambda: random_stylegan3("T", 16),
    "stylegan3-r": lambda: random_stylegan3("R", 16),
}


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def G(request):
    return FAMILIES[request.param]()


def full_run(G, ws, **options):
    outputs, carries = [], []
    img = G.synthesis.run(ws, on_layer=lambda i, y, carry: (outputs.append(y.clone()), carries.append(carry)),
                          **options)
    return img, outputs, carries


def tensors(carry) -> list[torch.Tensor]:
    """The tensors inside an (opaque) carry."""
    if isinstance(carry, torch.Tensor):
        return [carry]
    if isinstance(carry, (tuple, list)):
        return [t for c in carry for t in tensors(c)]
    return []


def test_the_table_lists_what_synthesis_runs_in_order(G):
    table = G.layer_table
    ws = G.mapping(torch.randn(2, G.z_dim), None)
    img, outputs, _ = full_run(G, ws)
    assert len(outputs) == len(table.layers) and img.shape == (2, G.img_channels, G.img_resolution, G.img_resolution)
    for layer, y in zip(table.layers, outputs):
        assert tuple(y.shape[1:]) == (layer.channels, layer.size, layer.size), layer.name
        assert layer.level == level_of_cutoff(layer.cutoff) and layer.level in LEVELS
        if layer.w_index is not None:
            assert style_affine(G, layer.name).weight.shape[1] == G.w_dim
    assert [s.index for s in table.ws] == list(range(G.num_ws))
    for slot in table.ws:
        assert table.layers[slot.first_layer].name == slot.layers[0]
        assert all(table.layers[table.index(n)].w_index == slot.index for n in slot.layers)
    assert torch.equal(img, G.synthesis(ws))


def test_synthesis_resumes_at_every_layer_with_identical_pixels(G):
    ws = G.mapping(torch.randn(2, G.z_dim), None)
    img, outputs, carries = full_run(G, ws, noise_mode="const")
    kept = [[t.clone() for t in tensors(c)] for c in carries]
    for k in range(1, len(G.layer_table.layers)):
        assert torch.equal(G.synthesis.run(ws, start=k, carry=carries[k - 1]), img), k
    for c, before in zip(carries, kept):   # nothing wrote into a carry it handed out
        assert all(torch.equal(a, b) for a, b in zip(tensors(c), before))


def test_a_w_index_reaches_exactly_its_layers(G):
    ws = G.mapping(torch.randn(1, G.z_dim), None)
    _, base, _ = full_run(G, ws)
    for slot in G.layer_table.ws:
        moved = ws.clone()
        moved[:, slot.index] += 1.0
        _, outputs, _ = full_run(G, moved)
        changed = [k for k, (a, b) in enumerate(zip(base, outputs)) if not torch.equal(a, b)]
        assert changed[0] == slot.first_layer, slot


def test_noise_inputs_are_listed_per_layer_and_seeded(G):
    table = G.layer_table
    noise = G.make_noise(3, batch=2)
    assert sorted(noise) == sorted(layer.name for layer in table.noise_layers)
    for layer in table.noise_layers:
        assert noise[layer.name].shape == (2, 1, layer.size, layer.size)
    assert all(torch.equal(noise[k], v) for k, v in G.make_noise(3, batch=2).items())


def test_the_input_transform_reaches_the_layers_that_read_it_and_nothing_else(G):
    table = G.layer_table
    ws = G.mapping(torch.randn(1, G.z_dim), None)
    a = torch.tensor(0.3)
    turn = torch.tensor([[a.cos(), a.sin(), 0.1], [-a.sin(), a.cos(), -0.05], [0, 0, 1]])
    _, base, _ = full_run(G, ws)
    _, moved, _ = full_run(G, ws, transform=turn)
    changed = [k for k, (x, y) in enumerate(zip(base, moved)) if not torch.equal(x, y)]
    readers = [k for k, layer in enumerate(table.layers) if layer.transform]
    assert table.has_transform == bool(readers)
    assert changed[:1] == readers[:1]                  # from the first reader on; nothing at all without one
    if readers:
        per_frame = torch.stack([torch.eye(3), turn])  # [N, 3, 3]: one transform per sample
        ws2 = ws.expand(2, -1, -1)
        both = G.synthesis.run(ws2, transform=per_frame)
        torch.testing.assert_close(both[1:], G.synthesis.run(ws, transform=turn), atol=1e-5, rtol=0)  # (batched
        torch.testing.assert_close(both[:1], G.synthesis.run(ws, transform=torch.eye(3)), atol=1e-5, rtol=0)  # convs round differently)
