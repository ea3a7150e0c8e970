"""Style-mixing grids and the stochastic-variation figure, laid out as in the StyleGAN papers.

    mix grid     top row: column sources; left column: row sources;
                 cell (r, c) = row source's ws with the column source's ws at the chosen w indices
    all levels   the same, one block of rows per level (coarse, middle, fine) under one header row
    noise grid   per source: noise on in coarse only / middle only / fine only / all / none, then the
                 per-pixel standard deviation of the image over noise seeds (what noise changes)

Sources are turned into ws by the Renderer (truncation, class, edits of a RenderState), and pixels use the
state's noise settings, so a figure made from the app's A/B shows what the app shows.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np
import torch

from .errors import ExplorerError
from .nn.family import FamilyGenerator
from .nn.layer_table import LEVELS
from .render.frames import FrameSettings, render_frames, state_frame_settings
from .render.renderer import Renderer
from .render.state import RenderState, Source

NOISE_COLUMNS = LEVELS + ("all", "none")
BACKGROUND = 255


# --- Layout ----------------------------------------------------------------------------------------

@dataclasses.dataclass
class Figure:
    """An image made of equal tiles, and where each tile is (for tests, captions and hover in the app)."""

    image: np.ndarray                                      # [H, W, 3] uint8
    tile: tuple[int, int]                                  # (height, width) of one cell
    origins: dict[tuple[int, int], tuple[int, int]]        # (row, col) -> (y, x) of the cell's top left
    description: dict = dataclasses.field(default_factory=dict)

    def cell(self, row: int, col: int) -> np.ndarray:
        y, x = self.origins[(row, col)]
        return self.image[y:y + self.tile[0], x:x + self.tile[1]]


def compose(
    tiles: dict[tuple[int, int], np.ndarray],   # (row, col) -> [h, w, 3] uint8; missing cells stay blank
    rows: int,
    cols: int,
    gap_before: Optional[dict[int, int]] = None,      # row -> blank pixels above it (separates blocks)
    top_labels: Optional[Sequence[str]] = None,       # one caption per column, in a strip above
    left_labels: Optional[dict[int, str]] = None,     # row -> caption, in a strip on the left
) -> Figure:
    h, w = next(iter(tiles.values())).shape[:2]
    gap_before = gap_before or {}
    font = _font(h, w, top_labels) if top_labels or left_labels else None
    top = (_text_size(font, "Mg")[1] + 6) if top_labels else 0
    left = (max(_text_size(font, t)[0] for t in left_labels.values()) + 8) if left_labels else 0
    ys, y = [], top
    for r in range(rows):
        y += gap_before.get(r, 0)
        ys.append(y)
        y += h
    image = np.full([y, left + cols * w, 3], BACKGROUND, dtype=np.uint8)
    origins = {(r, c): (ys[r], left + c * w) for r in range(rows) for c in range(cols)}
    for (r, c), tile in tiles.items():
        oy, ox = origins[(r, c)]
        image[oy:oy + h, ox:ox + w] = tile
    if font is not None:
        image = _draw_labels(image, font, [(left + c * w + w // 2, top // 2, t) for c, t in enumerate(top_labels or [])]
                             + [(left // 2, ys[r] + h // 2, t) for r, t in (left_labels or {}).items()])
    return Figure(image, (h, w), origins)


def _font(tile_height: int, tile_width: int, top_labels: Optional[Sequence[str]]):
    """Default font sized to the tiles (10-28 px), shrunk until every column caption fits its column."""
    from PIL import ImageFont
    size = int(min(max(10, tile_height // 10), 28))
    while True:
        try:
            font = ImageFont.load_default(size=size)
        except TypeError:  # Pillow without FreeType: one fixed bitmap font
            return ImageFont.load_default()
        if size <= 6 or all(_text_size(font, t)[0] <= tile_width - 2 for t in top_labels or []):
            return font
        size -= 1


def _text_size(font, text: str) -> tuple[int, int]:
    x0, y0, x1, y1 = font.getbbox(text)
    return x1 - x0, y1 - y0


def _draw_labels(image: np.ndarray, font, labels: list[tuple[int, int, str]]) -> np.ndarray:
    from PIL import Image, ImageDraw
    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    for x, y, text in labels:
        draw.text((x, y), text, fill=(0, 0, 0), font=font, anchor="mm")
    return np.asarray(pil).copy()


# --- Sources -> ws ---------------------------------------------------------------------------------

def sources_ws(state: RenderState, sources: Sequence[Source], renderer: Renderer) -> torch.Tensor:
    """ws [N, num_ws, w_dim] of each source standing as A of `state`, unmixed (truncation, edits apply).

    Seeds without a class take source A's class.
    """
    G = renderer.model_for(state).G
    plain = state.replace(t=0.0, mix=())
    out = []
    for s in sources:
        if s.w_path is None and s.class_idx is None:
            s = dataclasses.replace(s, class_idx=state.a.class_idx)
        out.append(renderer.compute_ws(plain.replace(a=s), G))
    return torch.cat(out)


def state_ab_ws(state: RenderState, renderer: Renderer) -> tuple[torch.Tensor, torch.Tensor]:
    """The app's current A (after its A -> B interpolation t) and B, each [1, num_ws, w_dim], unmixed."""
    G = renderer.model_for(state).G
    a = renderer.compute_ws(state.replace(mix=()), G)
    b = renderer.compute_ws(state.replace(a=state.b, t=0.0, mix=()), G)
    return a, b


def _render(G: FamilyGenerator, ws: torch.Tensor, settings: FrameSettings, batch_size: Optional[int]) -> np.ndarray:
    return np.concatenate(list(render_frames(G, ws, settings, batch_size)))


# --- Style mixing ----------------------------------------------------------------------------------

def mixed_ws(row_ws: torch.Tensor, col_ws: torch.Tensor, indices: Sequence[int]) -> torch.Tensor:
    """[R*C, num_ws, w_dim], row-major: row source r with column source c's ws at `indices`."""
    R, C = row_ws.shape[0], col_ws.shape[0]
    ws = row_ws[:, None].repeat(1, C, 1, 1)
    idx = list(indices)
    ws[:, :, idx] = col_ws[None, :, idx].expand(R, -1, -1, -1)
    return ws.reshape(R * C, *row_ws.shape[1:])


def style_mix_grid(G: FamilyGenerator, row_ws: torch.Tensor, col_ws: torch.Tensor, indices: Sequence[int],
                   settings: Optional[FrameSettings] = None, batch_size: Optional[int] = None) -> Figure:
    """The classic figure: blank corner, column sources on top, row sources on the left, mixes inside."""
    settings = settings or FrameSettings()
    R, C = row_ws.shape[0], col_ws.shape[0]
    images = _render(G, torch.cat([row_ws, col_ws, mixed_ws(row_ws, col_ws, indices)]), settings, batch_size)
    tiles = {(0, 1 + c): images[R + c] for c in range(C)}
    tiles.update({(1 + r, 0): images[r] for r in range(R)})
    tiles.update({(1 + r, 1 + c): images[R + C + r * C + c] for r in range(R) for c in range(C)})
    fig = compose(tiles, R + 1, C + 1)
    fig.description = {"figure": "style mixing", "indices": list(indices)}
    return fig


def style_mix_levels(G: FamilyGenerator, row_ws: torch.Tensor, col_ws: torch.Tensor,
                     settings: Optional[FrameSettings] = None, batch_size: Optional[int] = None,
                     labels: bool = True) -> Figure:
    """All levels in one figure, like the paper's: a block of R rows per level that the model has.

    Row 0 holds the column sources; block l (rows 1 + l*R .. ) repeats the row sources on the left with
    the column sources' styles at that level's w indices; a small gap separates blocks.
    """
    settings = settings or FrameSettings()
    table = G.layer_table
    levels = [lv for lv in LEVELS if table.level_indices(lv)]
    R, C = row_ws.shape[0], col_ws.shape[0]
    mixes = [mixed_ws(row_ws, col_ws, table.level_indices(lv)) for lv in levels]
    images = _render(G, torch.cat([row_ws, col_ws, *mixes]), settings, batch_size)
    tiles = {(0, 1 + c): images[R + c] for c in range(C)}
    gap = max(2, G.img_resolution // 16)
    gap_before, left_labels = {}, {}
    for li, lv in enumerate(levels):
        first = 1 + li * R
        gap_before[first] = gap
        idx = table.level_indices(lv)
        left_labels[first] = f"{lv} {idx[0]}-{idx[-1]}" if len(idx) > 1 else f"{lv} {idx[0]}"
        base = R + C + li * R * C
        for r in range(R):
            tiles[(first + r, 0)] = images[r]
            tiles.update({(first + r, 1 + c): images[base + r * C + c] for c in range(C)})
    fig = compose(tiles, 1 + len(levels) * R, C + 1, gap_before=gap_before, left_labels=left_labels if labels else None)
    fig.description = {"figure": "style mixing, all levels",
                       "levels": {lv: table.level_indices(lv) for lv in levels}}
    return fig


def mix_figure(state: RenderState, rows: Sequence[Source], cols: Sequence[Source], styles: str,
               renderer: Optional[Renderer] = None, batch_size: Optional[int] = None) -> Figure:
    """Style-mixing figure for sources under a state; styles: 'coarse', '0-3', ... or 'all-levels'."""
    renderer = renderer or Renderer()
    G = renderer.model_for(state).G
    row_ws, col_ws = sources_ws(state, rows, renderer), sources_ws(state, cols, renderer)
    return _mix(G, row_ws, col_ws, styles, state_frame_settings(state, renderer), batch_size)


def mix_grid_from_state(state: RenderState, styles: str, renderer: Optional[Renderer] = None,
                        batch_size: Optional[int] = None) -> Figure:
    """The app's current A (row) and B (column) as a style-mixing figure with the state's look."""
    renderer = renderer or Renderer()
    G = renderer.model_for(state).G
    a, b = state_ab_ws(state, renderer)
    return _mix(G, a, b, styles, state_frame_settings(state, renderer), batch_size)


def _mix(G: FamilyGenerator, row_ws: torch.Tensor, col_ws: torch.Tensor, styles: str, settings: FrameSettings,
         batch_size: Optional[int]) -> Figure:
    if styles == "all-levels":
        return style_mix_levels(G, row_ws, col_ws, settings, batch_size)
    try:
        indices = G.layer_table.parse_indices(styles)
    except ValueError as e:
        raise ExplorerError(f"bad --styles {styles!r}: {e} (use coarse, middle, fine, all, all-levels, 0-3 or 0,2,5)") from None
    if not indices:
        raise ExplorerError(f"--styles {styles!r} selects no w index in this {G.img_resolution} px model")
    return style_mix_grid(G, row_ws, col_ws, indices, settings, batch_size)


# --- Noise (stochastic variation) ------------------------------------------------------------------

def level_noise_scales(G: FamilyGenerator, base: Optional[dict[str, float]], on: Sequence[str]) -> dict[str, float]:
    """Per-layer noise scales with noise only in the given levels (the state's own scale where on)."""
    base = base or {}
    return {c.name: (float(base.get(c.name, 1.0)) if c.level in on else 0.0)
            for c in G.layer_table.noise_layers}


@torch.no_grad()
def noise_std(G: FamilyGenerator, ws: torch.Tensor, settings: Optional[FrameSettings] = None, samples: int = 16,
              seed: int = 0, batch_size: Optional[int] = None) -> np.ndarray:
    """Per-pixel standard deviation [N, H, W] (image units, mean over RGB) over `samples` noise seeds.

    Realisations are G.make_noise(seed, batch=samples), the same for every source, with the settings'
    per-layer scales; where every noise scale is 0 the map is exactly 0.
    """
    settings = settings or FrameSettings()
    noise = G.make_noise(seed, batch=samples)
    out = []
    for w in ws:
        sample = dataclasses.replace(settings, noise_mode="random", noise=noise)
        imgs = np.concatenate(list(render_frames(G, w[None].expand(samples, -1, -1), sample, batch_size, uint8=False)))
        out.append(imgs.astype(np.float64).std(axis=0).mean(axis=0))
    return np.stack(out)


def std_to_image(std: np.ndarray, scale: Optional[float] = None) -> np.ndarray:
    """[N, H, W] std -> [N, H, W, 3] grey uint8, 0 = black; normalised by `scale` (default: the maximum)."""
    scale = float(std.max()) if scale is None else scale
    grey = np.zeros_like(std) if scale <= 0 else np.clip(std / scale, 0, 1)
    return np.repeat(np.round(grey * 255).astype(np.uint8)[..., None], 3, axis=-1)


def noise_grid(G: FamilyGenerator, ws: torch.Tensor, settings: Optional[FrameSettings] = None, samples: int = 16,
               seed: int = 0, batch_size: Optional[int] = None, labels: bool = True) -> Figure:
    """One row per source: noise in each level alone (levels the model has), all, none, then the std map.

    Noise comes from the settings' mode ('const' buffers, or seeded 'random'); the std map uses random
    noise over `samples` seeds with every layer at the settings' scale, normalised by its maximum over
    the figure (description['std_max'] gives that scale in image units, [-1, 1] range).
    """
    settings = settings or FrameSettings()
    if settings.noise_mode == "none":
        raise ExplorerError("a noise figure needs noise: use --noise-mode const or random")
    if not G.layer_table.noise_layers:
        raise ExplorerError(f"this {G.img_resolution} px model has no noise inputs: there is no noise figure to make")
    levels = [lv for lv in LEVELS if any(c.level == lv for c in G.layer_table.noise_layers)]
    columns = levels + ["all", "none"]
    per_col = {lv: level_noise_scales(G, settings.noise_scales, [lv]) for lv in levels}
    per_col["all"] = level_noise_scales(G, settings.noise_scales, LEVELS)
    per_col["none"] = level_noise_scales(G, settings.noise_scales, [])
    N = ws.shape[0]
    tiles = {}
    for c, name in enumerate(columns):
        col_settings = dataclasses.replace(settings, noise_scales=per_col[name])
        for r, img in enumerate(_render(G, ws, col_settings, batch_size)):
            tiles[(r, c)] = img
    all_on = dataclasses.replace(settings, noise_scales=per_col["all"])
    std = noise_std(G, ws, all_on, samples, seed, batch_size)
    for r, img in enumerate(std_to_image(std)):
        tiles[(r, len(columns))] = img
    fig = compose(tiles, N, len(columns) + 1, top_labels=[*columns, "std"] if labels else None)
    fig.description = {"figure": "noise", "columns": [*columns, "std"], "std_samples": samples,
                       "std_seed": seed, "std_max": float(std.max())}
    return fig


def noise_figure(state: RenderState, sources: Sequence[Source], samples: int = 16, seed: int = 0,
                 renderer: Optional[Renderer] = None, batch_size: Optional[int] = None) -> Figure:
    """noise_grid for sources under a state (its truncation, edits, noise mode and per-layer scales)."""
    renderer = renderer or Renderer()
    G = renderer.model_for(state).G
    ws = sources_ws(state, sources, renderer)
    return noise_grid(G, ws, state_frame_settings(state, renderer), samples, seed, batch_size)
