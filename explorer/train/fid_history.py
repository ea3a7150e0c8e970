"""FID over training: one JSON line per measured snapshot, and the model card's table and plot drawn from them.

    explorer metrics --checkpoint snap.safetensors --data set.zip --record history.jsonl   (appends a line)
    explorer metrics --history history.jsonl --table fid.md --plot fid.png                 (draws the card's)

A line: {"kimg": 285.0, "fid": 103.2, "kid": 0.079, "num_fake": 2000, "num_real": 2000, "checkpoint": name,
"data": the command that builds the data}. Measuring a kimg again replaces its earlier line in the table.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Sequence

from ..errors import ExplorerError, OutputError

FIELDS = ("kimg", "fid", "kid", "num_fake", "num_real", "checkpoint", "data")


def append_record(path: "str | os.PathLike[str]", record: dict) -> None:
    line = {k: record[k] for k in FIELDS if k in record}
    if not isinstance(line.get("kimg"), (int, float)) or not isinstance(line.get("fid"), (int, float)):
        raise ExplorerError(f"{path}: a history line needs kimg and fid, got {sorted(line)}")
    try:
        with open(path, "a") as f:
            f.write(json.dumps(line) + "\n")
    except OSError as e:
        raise OutputError(Path(path), f"cannot append to the FID history ({e.strerror or e})") from None


def read_history(paths: Sequence["str | os.PathLike[str]"]) -> list[dict]:
    """Every file's lines, by kimg; of two lines with the same kimg the later one wins."""
    by_kimg: dict[float, dict] = {}
    for path in paths:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as e:
            raise ExplorerError(f"{path}: cannot read the FID history ({e.strerror or e})") from None
        for n, text in enumerate(lines, 1):
            if not text.strip():
                continue
            try:
                rec = json.loads(text)
                kimg, fid = float(rec["kimg"]), float(rec["fid"])
            except (ValueError, KeyError, TypeError):
                raise ExplorerError(f"{path}: line {n} is not a history record with kimg and fid") from None
            if not (math.isfinite(kimg) and math.isfinite(fid)):
                raise ExplorerError(f"{path}: line {n} has a non-finite kimg or fid")
            by_kimg[round(kimg, 1)] = {**rec, "kimg": kimg, "fid": fid}
    if not by_kimg:
        raise ExplorerError(f"{', '.join(map(str, paths))}: no FID measurements")
    return [by_kimg[k] for k in sorted(by_kimg)]


def markdown_table(rows: list[dict]) -> str:
    out = ["| kimg | FID | KID x 1e-3 | samples (generated / real) |", "| ---: | ---: | ---: | --- |"]
    for r in rows:
        kid = f"{r['kid'] * 1000:.1f}" if isinstance(r.get("kid"), (int, float)) else ""
        n = f"{r.get('num_fake', '?')} / {r.get('num_real', '?')}"
        out.append(f"| {r['kimg']:.1f} | {r['fid']:.1f} | {kid} | {n} |")
    return "\n".join(out) + "\n"


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def plot_png(rows: list[dict], path: "str | os.PathLike[str]", title: str = "FID over training",
             size: tuple[int, int] = (720, 420)) -> None:
    """A line plot of FID against kimg (lower is better), drawn with Pillow."""
    from PIL import Image, ImageDraw, ImageFont

    w, h = size
    left, right, top, bottom = 70, 30, 44, 56
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    font, small = ImageFont.load_default(size=16), ImageFont.load_default(size=13)
    xs, ys = [r["kimg"] for r in rows], [r["fid"] for r in rows]
    x_step = _nice_step(max(max(xs), 1.0))
    y_step = _nice_step(max(max(ys), 1.0))
    x_max = math.ceil(max(xs) / x_step) * x_step or x_step
    y_max = math.ceil(max(ys) * 1.05 / y_step) * y_step or y_step

    def px(x: float, y: float) -> tuple[float, float]:
        return left + x / x_max * (w - left - right), h - bottom - y / y_max * (h - top - bottom)

    for i in range(int(round(y_max / y_step)) + 1):
        y = i * y_step
        _, yy = px(0, y)
        d.line([(left, yy), (w - right, yy)], fill=(225, 225, 225))
        d.text((left - 8, yy), f"{y:g}", fill="black", font=small, anchor="rm")
    for i in range(int(round(x_max / x_step)) + 1):
        x = i * x_step
        xx, _ = px(x, 0)
        d.line([(xx, h - bottom), (xx, h - bottom + 5)], fill="black")
        d.text((xx, h - bottom + 8), f"{x:g}", fill="black", font=small, anchor="mt")
    d.line([(left, top), (left, h - bottom), (w - right, h - bottom)], fill="black")
    d.text((w / 2, 12), title, fill="black", font=font, anchor="mt")
    d.text(((left + w - right) / 2, h - 18), "kimg (thousands of real images shown)", fill="black", font=small, anchor="mm")
    d.text((left, top - 14), "FID (lower is better)", fill="black", font=small, anchor="lm")
    pts = [px(x, y) for x, y in zip(xs, ys)]
    if len(pts) > 1:
        d.line(pts, fill=(40, 90, 200), width=3)
    for (xx, yy), y in zip(pts, ys):
        d.ellipse([xx - 4, yy - 4, xx + 4, yy + 4], fill=(40, 90, 200))
        d.text((xx + 6, yy - 6), f"{y:.1f}", fill=(40, 90, 200), font=small, anchor="ld")
    try:
        tmp = Path(path).with_name(Path(path).name + ".tmp.png")
        img.save(tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise OutputError(Path(path), f"cannot write the FID plot ({e.strerror or e})") from None
