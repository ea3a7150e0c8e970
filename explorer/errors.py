"""One exception type per family of user-facing failure; each message names the file and the problem."""
from __future__ import annotations

import os


class ExplorerError(Exception):
    """Base of every error we expect a user to read (the CLI prints it on one line and exits 1)."""


class CheckpointError(ExplorerError):
    """A checkpoint could not be read, is corrupt, foreign, hostile or of an unsupported architecture."""

    def __init__(self, path: "str | os.PathLike[str]", reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{self.path}: {reason}")


class ImageInputError(ExplorerError):
    """An input image could not be read or used."""

    def __init__(self, path: "str | os.PathLike[str]", reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{self.path}: {reason}")


class OutputError(ExplorerError):
    """An output could not be written (missing directory, no permission, disk full)."""

    def __init__(self, path: "str | os.PathLike[str]", reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{self.path}: {reason}")
