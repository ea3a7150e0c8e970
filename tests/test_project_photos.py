"""`explorer project` on users' photos: framing options, bad points, and whole folders (resumable, Ctrl+C safe)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from explorer.cli import main as cli_main
from explorer.io.native import save_generator
from explorer.latents import load_ws
from tests.conftest import make_generator
from tests.helpers.interrupt import ctrl_c_after

FAST = ["--steps", "3", "--loss", "l2", "--device", "cpu"]


@pytest.fixture
def tiny_checkpoint(tmp_path):
    return save_generator(make_generator(), tmp_path / "tiny.safetensors")


def face_photo(path, size=(400, 300), eyes=((170, 130), (230, 130)), mouth=(200, 196)):
    im = Image.new("RGB", size, (240, 220, 200))
    d = ImageDraw.Draw(im)
    for x, y in eyes:
        d.ellipse([x - 8, y - 8, x + 8, y + 8], fill=(20, 20, 120))
    d.ellipse([mouth[0] - 20, mouth[1] - 6, mouth[0] + 20, mouth[1] + 6], fill=(200, 30, 30))
    im.save(path)
    return path


def run(args, capsys):
    rc = cli_main(["project", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err.strip()


# --- framing options -------------------------------------------------------------------------------------

def test_align_eyes_frames_the_face_for_the_projector(tmp_path, tiny_checkpoint, capsys):
    photo = face_photo(tmp_path / "face.png")
    rc, _, _ = run(["--checkpoint", str(tiny_checkpoint), "--target", str(photo), "--align-eyes",
                    "170,130,230,130,200,196", "--outdir", str(tmp_path / "out"), *FAST], capsys)
    assert rc == 0
    target = np.asarray(Image.open(tmp_path / "out" / "target.png")).astype(int)
    # the eyes land where FFHQ's recipe puts them: 0.5 -+ 30/240 of 32 px across, just above the middle
    dark = target.sum(axis=2) < 200          # the dark blue eyes, not the red mouth
    ys, xs = np.nonzero(dark)
    left, right = xs[xs < 16].mean() + 0.5, xs[xs >= 16].mean() + 0.5
    assert left == pytest.approx(16 - 30 * 32 / 240, abs=1) and right == pytest.approx(16 + 30 * 32 / 240, abs=1)
    assert ys.mean() + 0.5 == pytest.approx(16 - 6.6 * 32 / 240, abs=1)


def test_crop_and_rotate_choose_the_square(tmp_path, tiny_checkpoint, capsys):
    im = Image.new("RGB", (200, 100), (0, 0, 255))
    im.paste((255, 255, 0), (120, 20, 180, 80))
    im.save(tmp_path / "a.png")
    rc, _, _ = run(["--checkpoint", str(tiny_checkpoint), "--target", str(tmp_path / "a.png"), "--crop", "120,20,60",
                    "--rotate", "20", "--outdir", str(tmp_path / "out"), *FAST], capsys)
    assert rc == 0
    target = np.asarray(Image.open(tmp_path / "out" / "target.png")).astype(int)
    assert target[16, 16, 0] > 240 and target[16, 16, 2] < 20          # yellow inside the square
    assert target[0, 0, 2] > 100                                        # the rotated corner reaches the blue


@pytest.mark.parametrize("option, value, message", [
    ("--align-eyes", "230,130,170,130,200,196", "wrong order"),
    ("--align-eyes", "200,130,200.5,130,200,196", "apart"),
    ("--align-eyes", "170,130,230,130", "expected 6 numbers"),
    ("--crop", "300,0,200", "reaches outside the 400x300 photo"),
    ("--crop", "0,0,abc", "expected 3 numbers"),
    ("--crop", "0,0,0", "at least 1 pixel"),
])
def test_bad_points_are_one_line_and_write_nothing(tmp_path, tiny_checkpoint, capsys, option, value, message):
    photo = face_photo(tmp_path / "face.png")
    out = tmp_path / "out"
    rc, _, err = run(["--checkpoint", str(tiny_checkpoint), "--target", str(photo), option, value,
                      "--outdir", str(out), *FAST], capsys)
    assert rc == 1 and len(err.splitlines()) == 1 and message in err
    assert not out.exists() or not any(out.iterdir())


def test_tiny_photo_is_refused_with_its_size(tmp_path, tiny_checkpoint, capsys):
    Image.new("RGB", (12, 9)).save(tmp_path / "icon.png")
    rc, _, err = run(["--checkpoint", str(tiny_checkpoint), "--target", str(tmp_path / "icon.png"),
                      "--outdir", str(tmp_path / "out"), *FAST], capsys)
    assert rc == 1 and "icon.png" in err and "12x9 pixels" in err and len(err.splitlines()) == 1


def test_points_for_one_photo_cannot_go_with_many(tmp_path, tiny_checkpoint, capsys):
    a, b = face_photo(tmp_path / "a.png"), face_photo(tmp_path / "b.png")
    rc, _, err = run(["--checkpoint", str(tiny_checkpoint), "--target", str(a), str(b), "--crop", "0,0,100",
                      "--outdir", str(tmp_path / "out"), *FAST], capsys)
    assert rc == 1 and "single image" in err
    rc, _, err = run(["--checkpoint", str(tiny_checkpoint), "--target", str(a), "--rotate", "10",
                      "--outdir", str(tmp_path / "out"), *FAST], capsys)
    assert rc == 1 and "--rotate" in err and "--crop" in err


# --- a folder of photos ------------------------------------------------------------------------------------

def photo_folder(root, names=("a.png", "b.jpg", "c.png")):
    src = root / "photos"
    src.mkdir()
    for i, name in enumerate(names):
        Image.new("RGB", (40 + 8 * i, 40), (60 * i, 100, 200 - 50 * i)).save(src / name)
    (src / "notes.txt").write_text("not an image, not a photo: ignored")
    return src


def test_folder_gives_one_result_folder_per_photo_and_one_combined_npz(tmp_path, tiny_checkpoint, capsys):
    src, out = photo_folder(tmp_path), tmp_path / "out"
    rc, stdout, _ = run(["--checkpoint", str(tiny_checkpoint), "--target", str(src), "--outdir", str(out), *FAST],
                        capsys)
    assert rc == 0 and "done: 3 of 3" in stdout
    for stem in ("a", "b", "c"):
        assert {p.name for p in (out / stem).iterdir()} == {"target.png", "proj.png", "projected_w.npz"}
    combined = load_ws(out / "projected_w.npz", 8, 64)
    assert combined.shape == (3, 8, 64)
    with np.load(out / "projected_w.npz") as data:
        assert list(data["names"]) == ["a.png", "b.jpg", "c.png"]
    assert np.array_equal(combined[1].numpy(), load_ws(out / "b" / "projected_w.npz", 8, 64)[0].numpy())


def test_folder_run_resumes_where_it_stopped(tmp_path, tiny_checkpoint, capsys):
    src, out = photo_folder(tmp_path, names=("a.png", "b.png")), tmp_path / "out"
    args = ["--checkpoint", str(tiny_checkpoint), "--target", str(src), "--outdir", str(out), *FAST]
    assert run(args, capsys)[0] == 0
    first = (out / "a" / "projected_w.npz").stat().st_mtime_ns
    Image.new("RGB", (50, 50), (255, 0, 0)).save(src / "c.png")          # a new photo arrives
    rc, stdout, _ = run(args, capsys)
    assert rc == 0 and "2 of 3 image(s) already done" in stdout and "done: 3 of 3" in stdout
    assert (out / "a" / "projected_w.npz").stat().st_mtime_ns == first   # not redone
    assert load_ws(out / "projected_w.npz", 8, 64).shape == (3, 8, 64)
    # other settings would mix two kinds of result in one folder: refused, nothing touched
    rc, _, err = run([*args[:-len(FAST)], "--steps", "4", "--loss", "l2", "--device", "cpu"], capsys)
    assert rc == 1 and "other settings" in err and "steps was 3, now 4" in err


def test_folder_with_a_broken_photo_does_the_rest_and_says_which(tmp_path, tiny_checkpoint, capsys):
    src, out = photo_folder(tmp_path, names=("a.png", "b.png")), tmp_path / "out"
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not the rest of a jpeg")
    rc, stdout, err = run(["--checkpoint", str(tiny_checkpoint), "--target", str(src), "--outdir", str(out), *FAST],
                          capsys)
    assert rc == 1 and "done: 2 of 3" in stdout and "skipped 1: broken.jpg" in stdout
    assert "broken.jpg" in err and "Traceback" not in err
    assert load_ws(out / "projected_w.npz", 8, 64).shape == (2, 8, 64)


def test_empty_folder_is_a_clear_error(tmp_path, tiny_checkpoint, capsys):
    (tmp_path / "empty").mkdir()
    rc, _, err = run(["--checkpoint", str(tiny_checkpoint), "--target", str(tmp_path / "empty"),
                      "--outdir", str(tmp_path / "out"), *FAST], capsys)
    assert rc == 1 and "no images in this folder" in err


def test_folder_with_tuning_writes_a_tuned_generator_per_photo(tmp_path, tiny_checkpoint, capsys):
    src, out = photo_folder(tmp_path, names=("a.png", "b.png")), tmp_path / "out"
    rc, _, _ = run(["--checkpoint", str(tiny_checkpoint), "--target", str(src), "--tune", "3", "--outdir", str(out),
                    *FAST], capsys)
    assert rc == 0
    for stem in ("a", "b"):
        assert (out / stem / "tuned.safetensors").is_file() and (out / stem / "proj_tuned.png").is_file()


def test_ctrl_c_in_a_folder_run_keeps_finished_photos_and_redoes_the_rest(tmp_path, tiny_checkpoint):
    src, out = photo_folder(tmp_path, names=("a.png", "b.png")), tmp_path / "out"
    rc, stdout = ctrl_c_after(["project", "--checkpoint", str(tiny_checkpoint), "--target", str(src), "--steps",
                               "100000", "--loss", "l2", "--outdir", str(out), "--device", "cpu"],
                              marker="3/200000")   # the overall bar has moved
    assert rc == 130
    assert "interrupted: 0 of 2 image(s) done" in stdout and "run the same command again" in stdout
    assert not (out / "a" / "projected_w.npz").exists()                # not marked done: redone next time
    assert not (out / "projected_w.npz").exists()
