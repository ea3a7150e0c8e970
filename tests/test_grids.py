"""Style-mixing grids and the noise figure: every cell is the image it claims to be."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.cli import main as cli_main
from explorer.errors import ExplorerError
from explorer.grid import (level_noise_scales, mix_figure, mix_grid_from_state, noise_grid, noise_std,
                           style_mix_grid, style_mix_levels)
from explorer.images import to_uint8
from explorer.io.native import save_generator
from explorer.latents import zs_from_seeds
from explorer.render.frames import FrameSettings
from explorer.render.renderer import Renderer
from explorer.render.state import RenderState, Source
from tests.conftest import make_generator


@pytest.fixture(scope="module")
def G64():
    """64 px, so that the model has coarse, middle and fine levels (10 ws: 0-3 / 4-7 / 8-9)."""
    return make_generator(5, img_resolution=64, channel_base=256, channel_max=32)


def direct(G, ws, **kwargs) -> np.ndarray:
    """Images rendered straight from ws [num_ws, w_dim] or a list of them, with G.synthesis (no grid code)."""
    many = isinstance(ws, list)
    batch = torch.stack(ws) if many else ws.reshape(1, G.num_ws, G.w_dim)
    images = to_uint8(G.synthesis(batch, **kwargs)).numpy()
    return images if many else images[0]


def assert_same_image(a, b):
    assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).max() <= 1


def seeds_ws(G, seeds, psi=1.0):
    return G.mapping(zs_from_seeds(seeds, G.z_dim), None, truncation_psi=psi)


# --- style mixing --------------------------------------------------------------------------------

def test_mix_grid_cells_are_row_seeds_with_column_styles_at_the_given_indices():
    G = make_generator(1)
    row_ws, col_ws = seeds_ws(G, [1, 2, 3]), seeds_ws(G, [4, 5])
    idx = [0, 1, 2, 3]
    fig = style_mix_grid(G, row_ws, col_ws, idx, batch_size=4)
    assert fig.image.shape == (4 * 32, 3 * 32, 3)
    assert (fig.cell(0, 0) == 255).all()                                     # blank corner
    expected = {(0, 1 + c): col_ws[c] for c in range(2)}                     # column sources on top
    expected.update({(1 + r, 0): row_ws[r] for r in range(3)})               # row sources on the left
    for r in range(3):
        for c in range(2):
            ws = row_ws[r].clone()
            ws[idx] = col_ws[c][idx]
            expected[(1 + r, 1 + c)] = ws
    for cell, image in zip(expected, direct(G, list(expected.values()))):
        assert_same_image(fig.cell(*cell), image)
    assert not np.array_equal(fig.cell(1, 1), fig.cell(1, 0))


def test_all_levels_figure_has_one_block_of_rows_per_level(G64):
    row_ws, col_ws = seeds_ws(G64, [1, 2]), seeds_ws(G64, [3, 4, 5])
    fig = style_mix_levels(G64, row_ws, col_ws, batch_size=8)
    table = G64.layer_table
    assert fig.description["levels"] == {"coarse": [0, 1, 2, 3], "middle": [4, 5, 6, 7], "fine": [8, 9]}
    assert len({o for (r, c), o in fig.origins.items()}) == (1 + 3 * 2) * 4        # 7 rows x 4 columns
    assert (fig.cell(0, 0) == 255).all()
    ys = [fig.origins[(r, 0)][0] for r in range(7)]
    assert ys[2] - ys[1] == 64 and ys[3] - ys[2] > 64        # blocks are separated, rows within are not
    expected = {}
    for block, level in enumerate(("coarse", "middle", "fine")):
        for r in range(2):
            row = 1 + block * 2 + r
            expected[(row, 0)] = row_ws[r]
            for c in range(3):
                ws = row_ws[r].clone()
                ws[table.level_indices(level)] = col_ws[c][table.level_indices(level)]
                expected[(row, 1 + c)] = ws
    for cell, image in zip(expected, direct(G64, list(expected.values()))):
        assert_same_image(fig.cell(*cell), image)
    x0 = fig.origins[(0, 0)][1]
    assert x0 > 0 and (fig.image[:, :x0] < 128).any()        # level captions in a strip on the left


def test_mix_figure_uses_the_sessions_truncation(tmp_path):
    G = make_generator(2)
    state = RenderState(checkpoint=str(save_generator(G, tmp_path / "g.safetensors")), device="cpu", psi=0.5)
    fig = mix_figure(state, [Source(seed=7)], [Source(seed=8)], "middle")
    row_ws, col_ws = seeds_ws(G, [7], psi=0.5), seeds_ws(G, [8], psi=0.5)
    ws = row_ws[0].clone()
    ws[4:8] = col_ws[0][4:8]
    assert_same_image(fig.cell(1, 1), direct(G, ws))
    with pytest.raises(ExplorerError, match="styles"):
        mix_figure(state, [Source(seed=7)], [Source(seed=8)], "0-40")


def test_mix_grid_from_the_apps_a_and_b_matches_the_renderers_mix(tmp_path):
    G = make_generator(2)
    path = str(save_generator(G, tmp_path / "g.safetensors"))
    state = RenderState(checkpoint=path, device="cpu", a=Source(seed=11), b=Source(seed=12), psi=0.8,
                        noise_mode="random", noise_seed=5, noise_off_res=(8,))
    fig = mix_grid_from_state(state, "coarse")
    renderer = Renderer()
    assert_same_image(fig.cell(1, 0), renderer.render(state))                     # A as the app shows it
    assert_same_image(fig.cell(0, 1), renderer.render(state.replace(a=state.b)))  # B
    mixed = state.with_mix(G.layer_table.level_indices("coarse"), 1.0, G.num_ws)
    assert_same_image(fig.cell(1, 1), renderer.render(mixed))                     # the app's coarse mix


# --- noise figure --------------------------------------------------------------------------------

def test_noise_grid_columns_switch_noise_per_level(G64):
    ws = seeds_ws(G64, [1, 2])
    fig = noise_grid(G64, ws, samples=4, batch_size=8)
    cols = fig.description["columns"]
    assert cols == ["coarse", "middle", "fine", "all", "none", "std"]
    fine_only = level_noise_scales(G64, None, ["fine"])
    assert sorted(n for n, s in fine_only.items() if s) == ["b64.conv0", "b64.conv1"]
    for name, kwargs in (("none", dict(noise_mode="none")), ("all", dict(noise_mode="const")),
                         ("fine", dict(noise_scales=fine_only))):
        for r, image in enumerate(direct(G64, list(ws), **kwargs)):
            assert_same_image(fig.cell(r, cols.index(name)), image)
    assert fig.origins[(0, 0)][0] > 0          # column captions above


def test_std_map_is_zero_where_noise_is_off_and_positive_where_it_is_on(G64):
    ws = seeds_ws(G64, [3])
    off = FrameSettings(noise_scales=level_noise_scales(G64, None, []))
    assert np.array_equal(noise_std(G64, ws, off, samples=4), np.zeros([1, 64, 64]))
    fine = noise_std(G64, ws, FrameSettings(noise_scales=level_noise_scales(G64, None, ["fine"])), samples=4)
    assert fine.min() >= 0 and fine.mean() > 1e-3
    fig = noise_grid(G64, ws, off, samples=4)
    assert (fig.cell(0, 5) == 0).all()        # the std column is black when nothing varies
    every = noise_std(G64, ws, FrameSettings(), samples=4)
    assert every.mean() > fine.mean()         # more noisy layers, more variation


# --- command line --------------------------------------------------------------------------------

def test_cli_mix_and_noise_grid_write_pngs(tmp_path):
    G = make_generator(4)
    path = str(save_generator(G, tmp_path / "g.safetensors"))
    assert cli_main(["mix", "--checkpoint", path, "--rows", "1,2,3", "--cols", "4,5", "--styles", "0-3",
                     "--trunc", "0.7", "--out", str(tmp_path / "grid.png"), "--device", "cpu"]) == 0
    with Image.open(tmp_path / "grid.png") as im:
        assert im.size == (3 * 32, 4 * 32) and "explorer.figure" in im.text
    assert cli_main(["mix", "--checkpoint", path, "--rows", "1", "--cols", "4", "--styles", "all-levels",
                     "--out", str(tmp_path / "levels.png")]) == 0
    with Image.open(tmp_path / "levels.png") as im:
        assert im.size[1] > 3 * 32             # header row + a block for coarse and one for middle
    state = RenderState(checkpoint=path, a=Source(seed=1), b=Source(seed=2))
    state.save(tmp_path / "s.json")
    assert cli_main(["noise-grid", "--state", str(tmp_path / "s.json"), "--std-samples", "3",
                     "--out", str(tmp_path / "noise.png")]) == 0
    with Image.open(tmp_path / "noise.png") as im:
        assert im.size[0] == 5 * 32            # coarse, middle, all, none, std (no fine level at 32 px)
    assert cli_main(["mix", "--checkpoint", path, "--rows", "1", "--out", str(tmp_path / "x.png")]) == 1
