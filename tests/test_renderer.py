"""RenderState -> pixels: semantics of every control, caching that never changes a pixel, and the worker."""
from __future__ import annotations

import contextlib
import io
import json
import threading
import time

import numpy as np
import pytest
import torch

from explorer.cli import main
from explorer.latents import save_ws
from explorer.render.renderer import Renderer, slerp
from explorer.render.state import Edit, RenderState, Source
from explorer.render.worker import RenderWorker
from tests.conftest import make_generator
from explorer.io.native import save_generator
from tests.helpers.render_checks import assert_resumes_with_identical_pixels


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return str(save_generator(make_generator(img_resolution=64), tmp_path_factory.mktemp("m") / "g64.safetensors"))


def base_state(ckpt) -> RenderState:
    return RenderState(checkpoint=ckpt, device="cpu", a=Source(seed=3), b=Source(seed=8))


def test_state_round_trips_through_json(ckpt):
    s = base_state(ckpt).replace(mix=(0, 0.5, 1), psi=0.7, cutoff=4, noise_mode="random", noise_seed=9,
                                 noise_scales=(1, 0, 2), noise_off_res=(64,), t=0.25, interp_space="z",
                                 a=Source(w_path="x.npz", w_row=1), edits=(Edit("sefa", 2, 1.5, "coarse"),))
    assert RenderState.from_json(s.to_json()) == s
    assert json.loads(s.to_json())["version"] == 1


@pytest.mark.parametrize("bad", [dict(psi=3.0), dict(t=1.5), dict(mix=(2.0,)), dict(noise_mode="loud"),
                                 dict(device="tpu"), dict(noise_scales=(-1.0,))])
def test_state_rejects_out_of_range_values(bad):
    with pytest.raises(ValueError):
        RenderState(**bad)


def test_same_state_same_pixels_and_seed_semantics(ckpt):
    r = Renderer()
    s = base_state(ckpt)
    img = r.render(s)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    assert np.array_equal(img, Renderer().render(s))
    G = r.generator
    z = torch.from_numpy(np.random.RandomState(3).randn(1, G.z_dim)).float()
    direct = (G(z).permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].numpy()
    assert np.abs(direct.astype(int) - img).max() <= 1


def changes(s: RenderState, num_ws: int, num_noise: int):
    fine = list(range(8, num_ws))
    return {
        "fine mix": s.with_mix(fine, 1.0, num_ws),
        "coarse mix": s.with_mix(range(4), 0.5, num_ws),
        "psi": s.replace(psi=0.5),
        "psi+cutoff": s.replace(psi=0.5, cutoff=4),
        "t w": s.replace(t=0.3),
        "t z": s.replace(t=0.3, interp_space="z"),
        "fine noise scale": s.with_noise_scale(num_noise - 1, 0.0, num_noise),
        "noise off 64": s.replace(noise_off_res=(64,)),
        "random noise": s.replace(noise_mode="random", noise_seed=5),
        "noise none": s.replace(noise_mode="none"),
        "seed A": s.replace(a=Source(seed=4)),
        "edit": s.replace(edits=(Edit("sefa", 0, 2.0, "fine"),)),
    }


def test_cached_and_uncached_renders_are_identical_for_every_change(ckpt):
    cached, fresh = Renderer(), Renderer(use_cache=False)
    s = base_state(ckpt)
    base = cached.render(s)
    G = cached.generator
    for name, c in changes(s, G.num_ws, len(G.layer_table.noise_layers)).items():
        a = cached.render(c)
        assert np.array_equal(a, fresh.render(c)), name
        assert not np.array_equal(a, base), f"{name} changed nothing"
        assert np.array_equal(cached.render(s), base), f"back from {name}"


def test_late_changes_resume_synthesis_late(ckpt):
    r = Renderer()
    s = base_state(ckpt)
    r.render(s)
    G = r.generator
    n_noise = len(G.layer_table.noise_layers)
    first_fine = G.layer_table.ws[8].first_layer
    r.render(s.with_mix(range(8, 10), 1.0, G.num_ws))
    assert r.stats.first_index == first_fine and r.stats.first_layer == "b64.conv1"
    r.render(s.with_noise_scale(n_noise - 1, 0.5, n_noise))   # b64.conv1's noise
    assert r.stats.first_layer == "b64.conv1" and r.stats.mapped == 0
    r.render(s.with_noise_scale(0, 0.5, n_noise))             # b4.conv1's noise
    assert r.stats.first_index == 0 and r.stats.mapped == 0
    r.render(s.with_noise_scale(0, 0.5, n_noise))             # nothing changed
    assert r.stats.first_index == r.stats.num_layers and r.stats.first_layer == ""


@pytest.mark.parametrize("architecture", ["skip", "resnet", "orig"])
def test_a_change_inside_a_block_resumes_at_its_layer_with_identical_pixels(tmp_path, architecture):
    G = make_generator(img_resolution=64, architecture=architecture)
    ckpt = str(save_generator(G, tmp_path / f"{architecture}.safetensors"))
    cached, fresh = Renderer(), Renderer(use_cache=False)
    s = base_state(ckpt)
    n_noise = len(G.layer_table.noise_layers)
    skip = architecture == "skip"
    # w 0: b4.conv1 | w 1: b4.torgb + b8.conv0 | ... | w 7: b32.torgb + b64.conv0 | w 8: b64.conv1 | w 9: b64.torgb
    # (only 'skip' has a torgb in every block; 'resnet' resumes between its convs too: the carry holds its skip path)
    cases = {
        "w9 mix": (s.with_mix([9], 1.0, G.num_ws), "b64.torgb"),
        "w8 mix": (s.with_mix([8], 1.0, G.num_ws), "b64.conv1"),
        "w7 mix": (s.with_mix([7], 1.0, G.num_ws), "b32.torgb" if skip else "b64.conv0"),
        "w1 mix": (s.with_mix([1], 1.0, G.num_ws), "b4.torgb" if skip else "b8.conv0"),
        "w0 mix": (s.with_mix([0], 1.0, G.num_ws), "b4.conv1"),
        "last noise": (s.with_noise_scale(n_noise - 1, 2.0, n_noise), "b64.conv1"),
        "b64.conv0 noise": (s.with_noise_scale(n_noise - 2, 0.0, n_noise), "b64.conv0"),
    }
    assert_resumes_with_identical_pixels(cached, fresh, s, cases)


def test_mapping_runs_once_per_source(ckpt):
    r = Renderer()
    s = base_state(ckpt)
    r.render(s)
    for psi in (0.9, 0.5, 0.2):
        r.render(s.replace(psi=psi, cutoff=3, t=0.4))
        assert r.stats.mapped == 0
    r.render(s.replace(a=Source(seed=99)))
    assert r.stats.mapped == 1


def test_the_w_cache_stays_bounded_over_a_long_session_of_seed_changes(ckpt):
    from explorer.render.renderer import W_CACHE_SIZE
    r = Renderer()
    s = base_state(ckpt)
    for seed in range(3 * W_CACHE_SIZE):         # a user scrubbing the seed slider
        r.compute_ws(s.replace(a=Source(seed=seed)), r.model_for(s).G)
    assert len(r._w_cache) <= W_CACHE_SIZE
    r.stats.mapped = 0
    r.compute_ws(s.replace(a=Source(seed=3 * W_CACHE_SIZE - 1)), r.model_for(s).G)   # recent seeds stay cached
    assert r.stats.mapped == 0
    r.compute_ws(s.replace(a=Source(seed=0)), r.model_for(s).G)                        # the oldest were dropped
    assert r.stats.mapped == 1


def test_the_direction_cache_stays_bounded(ckpt, tmp_path):
    from explorer.directions import DIRECTION_SETS_KEPT, DirectionCache, save_directions
    G = Renderer().model_for(base_state(ckpt)).G
    cache = DirectionCache()
    for i in range(DIRECTION_SETS_KEPT + 8):    # a user loading many direction files
        path = save_directions(tmp_path / f"d{i}.npz", np.eye(G.w_dim, dtype=np.float32)[:2], None, "all")
        cache.get(G, str(path))
    assert len(cache._sets) == DIRECTION_SETS_KEPT


def test_mixing_semantics(ckpt):
    r = Renderer()
    s = base_state(ckpt)
    G = r.model_for(s).G
    ws_a = r.compute_ws(s, G)
    ws_b = r.compute_ws(s.replace(a=s.b), G)
    ws = r.compute_ws(s.with_mix([8, 9], 1.0, G.num_ws).with_mix([2], 0.25, G.num_ws), G)
    assert torch.equal(ws[:, 8:], ws_b[:, 8:]) and torch.equal(ws[:, :2], ws_a[:, :2])
    assert torch.allclose(ws[:, 2], ws_a[:, 2].lerp(ws_b[:, 2], 0.25))
    # interpolation applies to A before mixing towards B
    wt = r.compute_ws(s.replace(t=1.0), G)
    assert torch.equal(wt, ws_b)


def test_b_fine_stays_closer_to_a_than_b(ckpt):
    # (what the levels *mean* is checked on the trained bundled model in test_bundled_model.py)
    r = Renderer()
    s = base_state(ckpt)
    G = r.model_for(s).G
    a = r.render(s).astype(float)
    b = r.render(s.replace(a=s.b)).astype(float)
    fine = r.render(s.with_mix(G.layer_table.level_indices("fine"), 1.0, G.num_ws)).astype(float)
    assert np.abs(fine - a).mean() < 0.5 * np.abs(b - a).mean()


def test_truncation_psi_zero_renders_average_for_any_seed(ckpt):
    r = Renderer()
    s = base_state(ckpt).replace(psi=0.0)
    assert np.array_equal(r.render(s), r.render(s.replace(a=Source(seed=1234))))


def test_slerp_endpoints_and_norm():
    a, b = torch.randn(1, 64), torch.randn(1, 64)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    mid = slerp(a / a.norm(), b / b.norm(), 0.5)
    assert abs(mid.norm().item() - 1) < 1e-4


def test_w_plus_source_from_npz(ckpt, tmp_path):
    r = Renderer()
    G = r.model_for(base_state(ckpt)).G
    ws = G.mapping(torch.randn(2, G.z_dim), None)
    ws[:, 5:] += 0.5
    npz = tmp_path / "w.npz"
    save_ws(npz, ws)
    img = r.render(base_state(ckpt).replace(a=Source(w_path=str(npz), w_row=1)))
    expected = (G.synthesis(ws[1:2]).permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].numpy()
    assert np.abs(img.astype(int) - expected).max() <= 1


def test_generate_renders_a_saved_session(ckpt, tmp_path):
    s = base_state(ckpt).with_mix([8, 9], 1.0, 10).replace(psi=0.8)
    session = tmp_path / "session.json"
    s.save(session)
    assert main(["generate", "--state", str(session), "--outdir", str(tmp_path / "o")]) == 0
    from PIL import Image
    im = Image.open(tmp_path / "o" / "session.png")
    assert np.array_equal(np.asarray(im), Renderer().render(s))
    assert RenderState.from_json(im.text["explorer.render_state"]) == s


def test_worker_drops_stale_requests_and_reports_errors(ckpt, tmp_path):
    results = []
    done = threading.Event()

    def on_result(res):
        results.append(res)
        done.set()

    w = RenderWorker(on_result=on_result)
    try:
        s = base_state(ckpt)
        t0 = time.perf_counter()
        ids = [w.submit(s.replace(a=Source(seed=i))) for i in range(20)]
        assert time.perf_counter() - t0 < 0.5        # submit never waits for rendering
        assert w.wait_idle(60)
        assert results[-1].request_id == ids[-1] and results[-1].state.a.seed == 19
        assert len(results) < 20 and w.dropped > 0    # stale requests were dropped, not rendered
        assert results[-1].image.shape == (64, 64, 3) and results[-1].seconds > 0
        bad = tmp_path / "bad.pkl"
        bad.write_bytes(b"\x80\x04garbage")
        w.submit(s.replace(checkpoint=str(bad)))
        assert w.wait_idle(60)
        err = w.latest()
        assert err.image is None and str(bad) in err.error and "\n" not in err.error
        cli = io.StringIO()
        with contextlib.redirect_stderr(cli):
            main(["info", str(bad)])
        assert cli.getvalue().strip() == f"explorer info: error: {err.error}"   # the line the CLI gives
        w.submit(s)                                    # and it keeps serving
        assert w.wait_idle(60)
        assert w.latest().error is None and w.latest().image is not None
    finally:
        w.close()
