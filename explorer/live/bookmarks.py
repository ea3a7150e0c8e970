"""Bookmarks: places in latent space worth coming back to, each a full RenderState with a thumbnail.

    the frame on screen + its state --Bookmark.capture--> BookmarkList (add, jump, reorder, remove)
    BookmarkList --each state's final ws (mixing, truncation, edits applied)--> keyframes of a walk
                 --video.render_walk (cubic or linear in W, the first bookmark's noise)--> walk.mp4 | .gif

A bookmark keeps everything that decides its picture, so jumping back restores the image exactly; the walk
passes through every bookmark's own ws, so each keyframe of the video is that bookmark's picture (with the
noise settings of the first bookmark throughout).
"""
from __future__ import annotations

import base64
import dataclasses
import io
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from PIL import Image

from ..errors import ExplorerError
from ..latents import save_ws
from ..render.renderer import Renderer
from ..render.state import RenderState
from ..video import RecordResult, Walk, keyframes_from_npz, render_walk

THUMB_SIZE = 96        # px, the longer side of a bookmark's thumbnail


@dataclasses.dataclass(frozen=True)
class Bookmark:
    state: RenderState
    thumbnail: bytes = b""        # PNG, at most THUMB_SIZE px a side (empty: none yet)
    name: str = ""

    @classmethod
    def capture(cls, state: RenderState, image: Optional[np.ndarray], name: str = "") -> "Bookmark":
        """A bookmark of `state`, with a thumbnail of its frame (HxWx3 uint8) when there is one."""
        return cls(state, b"" if image is None else thumbnail_png(image), name)

    def thumbnail_pixels(self) -> Optional[np.ndarray]:
        if not self.thumbnail:
            return None
        return np.asarray(Image.open(io.BytesIO(self.thumbnail)).convert("RGB"))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state.to_dict(),
                "thumbnail": base64.b64encode(self.thumbnail).decode("ascii")}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Bookmark":
        png = base64.b64decode(str(d.get("thumbnail", "")), validate=True)
        if png:
            _check_thumbnail(png)
        return cls(RenderState.from_dict(d["state"]), png, str(d.get("name", "")))


def _check_thumbnail(png: bytes) -> None:
    """A PNG no larger than a thumbnail, judged by its header: a session may carry a decompression bomb."""
    if not png.startswith(b"\x89PNG"):
        raise ValueError("thumbnail is not a PNG")
    try:
        with Image.open(io.BytesIO(png)) as im:
            w, h = im.size
    except Image.DecompressionBombError:
        raise ValueError("thumbnail is a decompression bomb, not a thumbnail") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"thumbnail is not a readable PNG ({(str(e).splitlines() or [''])[0][:80]})") from None
    if max(w, h) > THUMB_SIZE:
        raise ValueError(f"thumbnail is {w}x{h}, larger than {THUMB_SIZE} px")


def thumbnail_png(image: np.ndarray, size: int = THUMB_SIZE) -> bytes:
    """A small PNG of a frame (its longer side `size` px), to store inside a session."""
    img = Image.fromarray(np.ascontiguousarray(image[..., :3]))
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


class BookmarkList:
    """An ordered list of bookmarks; safe to change from any thread."""

    def __init__(self, items: tuple[Bookmark, ...] = ()):
        self._lock = threading.Lock()
        self._items: list[Bookmark] = list(items)
        self.version = 0            # bumps on every change (a strip redraws when it moves)

    @property
    def items(self) -> tuple[Bookmark, ...]:
        with self._lock:
            return tuple(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __getitem__(self, i: int) -> Bookmark:
        with self._lock:
            return self._items[i]

    def add(self, bookmark: Bookmark) -> int:
        """Append; returns its index. A bookmark's default name is its number."""
        with self._lock:
            if not bookmark.name:
                bookmark = dataclasses.replace(bookmark, name=str(len(self._items) + 1))
            self._items.append(bookmark)
            self.version += 1
            return len(self._items) - 1

    def remove(self, i: int) -> None:
        with self._lock:
            del self._items[self._index(i)]
            self.version += 1

    def move(self, i: int, j: int) -> None:
        """Move bookmark i to position j (drag and drop in the strip)."""
        with self._lock:
            item = self._items.pop(self._index(i))
            self._items.insert(min(max(j, 0), len(self._items)), item)
            self.version += 1

    def rename(self, i: int, name: str) -> None:
        with self._lock:
            self._items[self._index(i)] = dataclasses.replace(self._items[self._index(i)], name=name)
            self.version += 1

    def _index(self, i: int) -> int:
        if not 0 <= i < len(self._items):
            raise ExplorerError(f"no bookmark {i + 1} (there are {len(self._items)})")
        return i


# --- a walk through the bookmarks ----------------------------------------------------------------------

def bookmarks_ws(bookmarks: "tuple[Bookmark, ...] | list[Bookmark]", renderer: Renderer) -> torch.Tensor:
    """The final ws [K, num_ws, w_dim] of each bookmark, as its picture used them; all on one model."""
    if len(bookmarks) < 2:
        raise ExplorerError(f"a walk needs at least 2 bookmarks, there are {len(bookmarks)}")
    first = bookmarks[0].state
    model = renderer.model_for(first)
    for k, b in enumerate(bookmarks[1:], start=2):
        if (b.state.checkpoint, b.state.device) != (first.checkpoint, first.device):
            raise ExplorerError(f"bookmark {k} ({b.name}) is of another model ({b.state.checkpoint or 'the bundled one'}) "
                                f"than bookmark 1: a walk stays on one model")
    with torch.no_grad():
        return torch.cat([renderer.compute_ws(b.state, model.G) for b in bookmarks])


def render_bookmark_walk(
    bookmarks: "tuple[Bookmark, ...] | list[Bookmark]",
    out: "str | os.PathLike[str]",
    frames_per_key: int = 60,
    loop: bool = False,
    interp: str = "cubic",
    fps: float = 30,
    renderer: Optional[Renderer] = None,
    progress: Optional[Callable[[int, int], None]] = None,
    cancel: Optional[threading.Event] = None,
) -> RecordResult:
    """A keyframe walk through the bookmarks, in order, written to `out` (.mp4 or .gif).

    The walk's keyframes are the bookmarks' final ws (written as a w+ file the walk reads), and the state
    it runs in is the first bookmark's with nothing further applied to those ws (no truncation, mixing or
    edits twice); its noise settings hold for every frame.
    """
    renderer = renderer or Renderer()
    ws = bookmarks_ws(bookmarks, renderer)
    with tempfile.TemporaryDirectory(prefix="explorer-bookmarks-") as tmp:
        keys_file = save_ws(Path(tmp) / "bookmarks.npz", ws)
        keys = keyframes_from_npz([keys_file], ws.shape[1], ws.shape[2])
        walk = Walk(keys, frames_per_key=frames_per_key, loop=loop, interp=interp, space="w")
        plain = bookmarks[0].state.replace(a=keys[0], t=0.0, psi=1.0, cutoff=None, mix=(), edits=())
        return render_walk(walk, plain, out, fps=fps, renderer=renderer, progress=progress, cancel=cancel)


__all__ = ["Bookmark", "BookmarkList", "THUMB_SIZE", "thumbnail_png", "bookmarks_ws", "render_bookmark_walk"]
