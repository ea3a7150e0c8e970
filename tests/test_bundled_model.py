"""The bundled generator: it exists, is the default, draws varied, structured images, and its style levels
and noise do what the app's sliders promise."""
from __future__ import annotations

import torch

from explorer import load_generator
from explorer.bundled import bundled_path, default_checkpoint
from explorer.latents import zs_from_seeds
from explorer.level_effects import level_effects


def _bundled():
    assert bundled_path().exists(), f"{bundled_path()} is missing"
    return load_generator(None)


def test_bundled_checkpoint_is_small_trained_and_the_default():
    path = bundled_path()
    assert default_checkpoint() == path or default_checkpoint().resolve() == path.resolve()
    assert path.stat().st_size < 25 * 2 ** 20
    G = _bundled()
    assert G.img_resolution == 64 and G.c_dim == 0
    provenance = dict(G.cfg.provenance)
    assert provenance.get("source_format") == "explorer-train" and float(provenance["kimg"]) >= 20


def test_images_are_varied_structured_and_not_constant():
    G = _bundled()
    with torch.no_grad():
        img = G(zs_from_seeds(list(range(16)), G.z_dim), None, noise_mode="const").clamp(-1, 1)
    # not constant: every image has contrast
    assert (img.std(dim=[1, 2, 3]) > 0.1).all()
    # varied across seeds: images differ from each other by a sizeable amount on average
    flat = img.flatten(1)
    dists = torch.cdist(flat, flat) / flat.shape[1] ** 0.5
    assert dists[~torch.eye(16, dtype=torch.bool)].min() > 0.05
    assert dists.sum() / (16 * 15) > 0.2
    # not noise: neighbouring pixels are strongly correlated, as in drawn faces (white noise gives ~0)
    a, b = img[..., :, :-1].flatten(), img[..., :, 1:].flatten()
    corr = torch.corrcoef(torch.stack([a, b]))[0, 1]
    assert corr > 0.8


def test_style_levels_and_noise_change_what_they_promise():
    G = _bundled()
    fx = level_effects(G, pairs=16)["levels"]
    seed, coarse, middle, fine, noise = fx["other seed"], fx["coarse"], fx["middle"], fx["fine"], fx["noise"]

    def share(level: dict, part: str) -> float:   # fraction of what another seed changes
        return level[part] / seed[part]

    # coarse styles carry most of what makes two seeds' forms differ (head shape, hair outline, shoulders),
    # and more of a seed's change of shape than of its change of colour
    assert share(coarse, "shape") > 0.6 and share(coarse, "shape") > share(coarse, "colour")
    assert coarse["shape"] > 5 * fine["shape"]
    # fine styles keep A's forms and change its colours: at least twice the share of colour as of shape
    assert share(fine, "shape") < 0.15 and share(fine, "colour") > 2 * share(fine, "shape")
    # noise only changes small detail: little change of forms or regional colour compared with another seed
    assert share(noise, "shape") < 0.2 and share(noise, "colour") < 0.1
    assert share(noise, "detail") > share(noise, "colour")
