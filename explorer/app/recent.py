"""The recent-checkpoints list, kept across runs in $XDG_CONFIG_HOME/explorer/recent.json."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

from ..errors import OutputError
from ..io.files import absolute
from ..files import atomic_write

LIMIT = 10


def default_recent_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "explorer" / "recent.json"


class RecentList:
    def __init__(self, path: "Optional[str | os.PathLike[str]]" = None, limit: int = LIMIT):
        self.path = Path(path) if path is not None else default_recent_file()
        self.limit = limit
        self.items: list[str] = self._read()

    def add(self, checkpoint: str) -> None:
        """Put a checkpoint first (once); a list that cannot be written is only a lost convenience."""
        checkpoint = absolute(checkpoint)
        self.items = [checkpoint] + [p for p in self.items if p != checkpoint][: self.limit - 1]
        try:
            with atomic_write(self.path, "recent list") as tmp:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_text(json.dumps(self.items, indent=1))
        except OutputError:
            pass

    def _read(self) -> list[str]:
        try:
            items = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        return [str(p) for p in items if isinstance(p, str)][: self.limit] if isinstance(items, list) else []
