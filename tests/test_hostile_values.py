"""Bad values on every command, bad sessions and bad training sets, handed to the CLI as a user would.

The same promise as the hostile files (test_hostile_inputs.py): exit status 1, one line naming the value or
file and the problem, nothing written or changed (no output folder created either), peak memory and time
bounded, measured in this process.
"""
from __future__ import annotations

import io
import json
import os
import resource
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.io.native import save_generator
from explorer.render.state import RenderState
from tests.conftest import make_generator
from tests.test_hostile_inputs import check_refused

# --- values on the command line -------------------------------------------------------------------------

# (argv after the command, what the line must say); {ckpt} is a small generator, {out} a folder that must
# not appear, {dir} the test's folder.
VALUE_CASES = {
    "seed_range_of_10_12": (["generate", "--seeds", "0-1000000000000", "--outdir", "{out}"],
                            "seed 1000000000000 out of range"),
    "seed_range_of_4_billion": (["generate", "--seeds", "0-4294967295", "--outdir", "{out}"],
                                "names 4294967296 seeds, more than 1000000"),
    "seed_minus_one": (["generate", "--seeds", "5,-1", "--outdir", "{out}"], "seed -1 out of range"),
    "seeds_empty": (["generate", "--seeds", "", "--outdir", "{out}"], "no seeds in ''"),
    "seeds_reversed": (["generate", "--seeds", "9-3", "--outdir", "{out}"], "the end is below the start"),
    "outdir_empty": (["generate", "--seeds", "0", "--outdir", ""], "argument --outdir: an empty path"),
    "trunc_nan": (["generate", "--seeds", "0", "--trunc", "nan", "--outdir", "{out}"], "must be a finite number"),
    "trunc_out_of_range": (["generate", "--seeds", "0", "--trunc", "5", "--outdir", "{out}"], "must be in [-1, 2]"),
    "noise_seed_2_70": (["generate", "--seeds", "0", "--noise-seed", str(2 ** 70), "--outdir", "{out}"],
                        "must be in 0..4294967295"),
    "grid_cols_zero": (["generate", "--seeds", "0", "--grid-cols", "0", "--outdir", "{out}"], "must be in 1..1024"),
    "frames_per_seed_2_million": (["video", "--seeds", "0,1", "--frames-per-seed", "2000000", "--out", "{out}/a.mp4"],
                                  "must be in 1..10000"),
    "fps_nan": (["video", "--seeds", "0,1", "--fps", "nan", "--out", "{out}/a.mp4"], "must be a finite number"),
    "walk_too_long": (["video", "--checkpoint", "{ckpt}", "--seeds", "0-99999", "--frames-per-seed", "10000",
                       "--out", "{dir}/walk.mp4"], "make it at most"),
    "gif_too_long": (["video", "--checkpoint", "{ckpt}", "--seeds", "0-999", "--frames-per-seed", "10000",
                      "--out", "{dir}/walk.gif"], "write an .mp4"),
    "alphas_nan": (["directions", "--grid", "{out}/g.png", "--alphas=nan,1"], "must be a finite number"),
    "alphas_count_huge": (["directions", "--grid", "{out}/g.png", "--alphas=-3:3:100000000"], "must be in 1..1024"),
    "project_steps_zero": (["project", "--target", "x.png", "--steps", "0", "--outdir", "{out}"], "must be in 1..1000000"),
    "train_map_10_7": (["train", "--data", "x.zip", "--map", "10000000", "--outdir", "{out}"], "must be in 1..64"),
    "train_lr_inf": (["train", "--data", "x.zip", "--lr", "inf", "--outdir", "{out}"], "must be a finite number"),
    "gui_width_zero": (["gui", "--width", "0"], "must be in 320..16384"),
    "mix_rows_empty": (["mix", "--rows", "", "--cols", "1", "--out", "{out}/m.png"], "no seeds"),
    "unknown_option": (["generate", "--seedz", "1", "--outdir", "{out}"], "unrecognized arguments: --seedz"),
}


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory) -> Path:
    return save_generator(make_generator(), tmp_path_factory.mktemp("ckpt") / "small.safetensors")


def _argv(template: list[str], tmp_path: Path, ckpt: Path) -> list[str]:
    return [a.format(out=tmp_path / "out", ckpt=ckpt, dir=tmp_path) for a in template]


@pytest.mark.parametrize("name", sorted(VALUE_CASES))
def test_bad_value(name, tmp_path, small_checkpoint):
    template, problem = VALUE_CASES[name]
    argv = _argv(template, tmp_path, small_checkpoint)
    check_refused(tmp_path, None, problem, argv)
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA, so --device cuda is valid here")
def test_device_cuda_without_cuda(tmp_path, small_checkpoint):
    check_refused(tmp_path, None, "CUDA is not available", ["generate", "--checkpoint", str(small_checkpoint),
                                                            "--seeds", "0", "--device", "cuda",
                                                            "--outdir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


# --- sessions ---------------------------------------------------------------------------------------------

def _session(changes: dict) -> str:
    d = RenderState().to_dict()
    d.update(changes)
    return json.dumps(d)


SESSION_CASES = {
    "a_is_a_string": (_session({"a": "seed0"}), "a must be an object"),
    "seed_1e100": (_session({"a": {"seed": 1e100}}), "seed must be an integer 0..4294967295, got 1e+100"),
    "seed_minus_one": (_session({"b": {"seed": -1}}), "seed must be an integer 0..4294967295, got -1"),
    "edits_abc": (_session({"edits": "abc"}), 'edits must be a list, got "abc"'),
    "noise_seed_2_70": (_session({"noise_seed": 2 ** 70}), "noise_seed must be an integer"),
    "checkpoint_5": (_session({"checkpoint": 5}), "checkpoint must be a file name or null, got 5"),
    "alpha_nan": (_session({"edits": [{"directions": "sefa", "index": 0, "alpha": float("nan"), "layers": "all"}]}),
                  "alpha must be in [-5, 5], got nan"),
    "psi_infinite": (_session({"psi": float("inf")}), "psi must be in [-1, 2], got inf"),
    "mix_of_strings": (_session({"mix": ["a"]}), "mix must be a list"),
    "unknown_field": (_session({"colour": 1}), "unknown session fields: colour"),
    "unknown_source_field": (_session({"a": {"seed": 1, "exec": "x"}}), "unknown fields in a: exec"),
    "nested_100k_deep": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "not_an_object": ("[1, 2]", "a session is a JSON object"),
    "not_json": ("{seed: 1", "not a valid session file"),
    "not_utf8": (b"\xff\xfe\x00garbage", "not a valid session file"),
}


@pytest.mark.parametrize("name", sorted(SESSION_CASES))
def test_bad_session(name, tmp_path, small_checkpoint):
    text, problem = SESSION_CASES[name]
    path = tmp_path / "session.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    check_refused(tmp_path, path, problem, ["generate", "--state", str(path), "--checkpoint", str(small_checkpoint),
                                            "--outdir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_session_that_is_a_fifo(tmp_path):
    path = tmp_path / "session.json"
    os.mkfifo(path)
    check_refused(tmp_path, path, "FIFO", ["generate", "--state", str(path), "--outdir", str(tmp_path / "out")])


def test_session_larger_than_any_session(tmp_path):
    path = tmp_path / "session.json"
    with open(path, "wb") as f:
        f.truncate(64 << 20)   # sparse: 64 MB of zeros that occupy no disk
    check_refused(tmp_path, path, "not a session file", ["generate", "--state", str(path),
                                                         "--outdir", str(tmp_path / "out")])


def test_a_bookmark_thumbnail_that_is_a_decompression_bomb_is_refused_by_its_header(tmp_path):
    import base64

    from explorer.errors import ExplorerError
    from explorer.live.session import LiveSession
    from tests.helpers.peak_memory import PeakMemory

    d = RenderState().to_dict()
    d["extras"] = {"bookmarks": [{"name": "x", "state": RenderState().to_dict(),
                                  "thumbnail": base64.b64encode(_bomb_png()).decode()}]}
    path = tmp_path / "session.json"
    path.write_text(json.dumps(d))
    with PeakMemory() as mem, pytest.raises(ExplorerError) as info:
        LiveSession.load(path)
    assert str(info.value) == f"{path}: bookmark 1: thumbnail is a decompression bomb, not a thumbnail"
    assert mem.mb < 100


# --- training sets ----------------------------------------------------------------------------------------

def _png(side: int = 8, colour: int = 128) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (colour, 0, 0)).save(buf, format="PNG")
    return buf.getvalue()


def _zip(path: Path, entries: dict[str, bytes], deflated: bool = False) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _rect_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 4)).save(buf, format="PNG")
    return buf.getvalue()


def _labels(values: list) -> bytes:
    return json.dumps({"labels": [[f"{i:05d}.png", v] for i, v in enumerate(values)]}).encode()


def _bomb_png() -> bytes:
    """A 20000 x 20000 PNG of one colour: ~60 KB compressed, 1.2 GB decoded."""
    buf = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buf, format="PNG")
    return buf.getvalue()


DATA_CASES = {
    "first_entry_not_an_image": ({"00000.png": b"this is text", "00001.png": _png()}, "00000.png is not a readable image"),
    "decompression_bomb": ({"00000.png": _png(), "00001.png": b"BOMB"}, "00001.png is a decompression bomb"),
    "first_image_a_bomb": ({"00000.png": b"BOMB"}, "decompression bomb"),
    "string_labels": ({"00000.png": _png(), "00001.png": _png(), "dataset.json": _labels(["cat", "dog"])},
                      'label "cat" is neither a class index'),
    "huge_label": ({"00000.png": _png(), "00001.png": _png(), "dataset.json": _labels([0, 10 ** 12])},
                   "label 1000000000000 is neither a class index"),
    "negative_label": ({"00000.png": _png(), "00001.png": _png(), "dataset.json": _labels([0, -1])},
                       "label -1 is neither a class index"),
    "labels_not_pairs": ({"00000.png": _png(), "dataset.json": b'{"labels": 5}'}, "labels must be a list"),
    "labels_json_nested": ({"00000.png": _png(), "dataset.json": b"[" * 100_000 + b"]" * 100_000}, "nested too deeply"),
    "not_square": ({"00000.png": _rect_png()}, "images must be square"),
}


@pytest.mark.parametrize("name", sorted(DATA_CASES))
def test_bad_training_set(name, tmp_path):
    entries, problem = DATA_CASES[name]
    entries = {k: (_bomb_png() if v == b"BOMB" else v) for k, v in entries.items()}
    src = tmp_path / "in"
    src.mkdir()
    path = _zip(src / "data.zip", entries)
    check_refused(tmp_path, path, problem, ["train", "--data", str(path), "--outdir", str(tmp_path / "run"),
                                            "--kimg", "0.001", "--device", "cpu"])
    assert not (tmp_path / "run").exists()


def test_training_set_zip_bomb(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    path = src / "data.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("00000.png", _png())
        info = zipfile.ZipInfo("00001.png")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            for _ in range(512):
                f.write(chunk)
    check_refused(tmp_path, path, "decompression bomb", ["train", "--data", str(path), "--outdir", str(tmp_path / "run"),
                                                         "--kimg", "0.001", "--device", "cpu"])


# --- a full disk ----------------------------------------------------------------------------------------------

def _small_files_only() -> None:
    """In the child: writes past 64 kB fail with EFBIG, as writes to a full disk fail with ENOSPC."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))


def test_convert_on_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, small_checkpoint):
    out = tmp_path / "big.safetensors"
    G = make_generator(img_resolution=64, channel_base=4096, channel_max=128)   # ~1 MB of weights
    src = save_generator(G, tmp_path / "src.safetensors")
    before = sorted(os.listdir(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "explorer.cli", "convert", str(src), str(out)],
                          preexec_fn=_small_files_only, capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert f"{out}: cannot write checkpoint (File too large)" in lines[0]
    assert sorted(os.listdir(tmp_path)) == before


def test_training_snapshot_on_a_full_disk_is_an_output_error(tmp_path):
    code = ("import sys, torch; from explorer.train.snapshot import save_training_state; "
            "from explorer.errors import OutputError\n"
            "try:\n    save_training_state(sys.argv[1], {'m': torch.nn.Linear(256, 256)}, {}, {}, {'step': 1})\n"
            "except OutputError as e:\n    print(e)")
    path = tmp_path / "training-state.safetensors"
    proc = subprocess.run([sys.executable, "-c", code, str(path)], preexec_fn=_small_files_only,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.strip() == f"{path}: cannot write training snapshot (File too large)"
    assert os.listdir(tmp_path) == []
