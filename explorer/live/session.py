"""A live session file: the RenderState, plus the bookmarks and MIDI bindings that belong with it.

    session.json = RenderState.to_dict() + {"extras": {"bookmarks": [...], "midi": [...]}}

The extras sit under RenderState's EXTRAS_KEY, which RenderState.load skips: every command that reads a
session (`explorer generate --state`, `explorer video --state`) still reads one written here.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from ..errors import ExplorerError
from ..files import atomic_write
from ..render.state import EXTRAS_KEY, RenderState, read_session_text
from .bookmarks import Bookmark
from .midi import MidiBinding


@dataclasses.dataclass(frozen=True)
class LiveSession:
    state: RenderState
    bookmarks: tuple[Bookmark, ...] = ()
    midi: tuple[MidiBinding, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = self.state.to_dict()
        d[EXTRAS_KEY] = {"bookmarks": [b.to_dict() for b in self.bookmarks],
                         "midi": [dataclasses.asdict(m) for m in self.midi]}
        return d

    def save(self, path: "str | os.PathLike[str]") -> Path:
        """Write atomically: a failed save never damages the previous file."""
        with atomic_write(path, "session") as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=1))
        return Path(path)

    @classmethod
    def load(cls, path: "str | os.PathLike[str]") -> "LiveSession":
        """Any session file (with or without extras); a bad one raises ExplorerError naming the file and
        what is wrong, e.g. 'bookmark 3: psi must be in [-1, 2], got 7'."""
        text = read_session_text(path)   # a regular file of a sane size (no FIFO, no 1 GB "session")
        try:
            d = json.loads(text)
        except RecursionError:
            raise ExplorerError(f"{path}: not a valid session file (nested too deeply)") from None
        except ValueError as e:
            raise ExplorerError(f"{path}: not a valid session file ({str(e).splitlines()[0][:160]})") from None
        if not isinstance(d, dict):
            raise ExplorerError(f"{path}: not a valid session file (expected a JSON object)")
        extras = d.get(EXTRAS_KEY) or {}
        where = "the state"
        try:
            state = RenderState.from_dict(d)
            if not isinstance(extras, dict):
                raise ValueError(f"'{EXTRAS_KEY}' must be an object")
            bookmarks = []
            for i, b in enumerate(extras.get("bookmarks") or [], start=1):
                where = f"bookmark {i}"
                bookmarks.append(Bookmark.from_dict(b))
            midi = []
            for i, m in enumerate(extras.get("midi") or [], start=1):
                where = f"MIDI binding {i}"
                midi.append(MidiBinding(**m))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as e:
            raise ExplorerError(f"{path}: {where}: {_first_line(e)}") from None
        return cls(state, tuple(bookmarks), tuple(midi))


def _first_line(e: Exception) -> str:
    text = str(e).strip() or type(e).__name__
    return (f"missing {text}" if isinstance(e, KeyError) else text).splitlines()[0][:200]
