"""One exception type per family of user-facing failure; each message names the file and the problem.

Every ExplorerError is one line by construction (control characters in a hostile file name or in a message
quoted from a library are escaped, long messages cut), so the CLI's `explorer CMD: error: ...` and the app's
status line can show `one_line(e)` as it is.
"""
from __future__ import annotations

import os

MAX_MESSAGE = 400  # characters: a message longer than a terminal line or two is not read


def single_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` with control characters escaped (no newline can split it) and cut to `limit` characters."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return text if len(text) <= limit else text[:limit - 3] + "..."


class ExplorerError(Exception):
    """Base of every error we expect a user to read (the CLI prints it on one line and exits 1)."""

    def __init__(self, message: str = ""):
        super().__init__(single_line(message))


class FileError(ExplorerError):
    """A file we were asked to read or write cannot be used: `path: reason`."""

    def __init__(self, path: "str | os.PathLike[str]", reason: str):
        self.path, self.reason = os.fspath(path), reason
        super().__init__(f"{self.path}: {reason}")


class CheckpointError(FileError):
    """A checkpoint could not be read, is corrupt, foreign, hostile or of an unsupported architecture."""


class ImageInputError(FileError):
    """An input image could not be read or used."""


class DatasetError(FileError):
    """A training set (zip or folder of images, dataset.json labels) cannot be read or used."""


class SessionError(FileError):
    """A saved session (RenderState JSON) cannot be read or used."""


class OutputError(FileError):
    """An output could not be written (missing directory, no permission, disk full)."""


def one_line(error: BaseException) -> str:
    """What the CLI and the app show for an error: the ExplorerError's own line, else `Type: first line`."""
    if isinstance(error, ExplorerError):
        return str(error)
    text = str(error).strip().splitlines()
    return single_line(f"{type(error).__name__}: {text[0]}" if text else type(error).__name__)
