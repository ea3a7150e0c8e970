"""Opening a file a user named: only a readable regular file, never a FIFO, device or socket.

open() on a FIFO blocks until a writer appears (forever, in the render worker), and a character device
such as /dev/zero never ends. So the path is opened non-blocking and checked with fstat on the open
descriptor (no window between a check and the open in which the path could be swapped), and every
failure is one FileError naming the file: missing, a directory, a symlink loop, no permission.
"""
from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO, Type

from ..errors import CheckpointError, FileError

_KIND = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
         stat.S_IFSOCK: "a socket"}


def open_regular(path: "str | os.PathLike[str]", error: Type[FileError] = CheckpointError,
                 what: str = "a file") -> BinaryIO:
    """The file at `path` opened for binary reading; `error(path, reason)` if it is not a readable regular file.
    `what` names what was expected, article included ("a checkpoint file")."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise error(path, _reason(e, what)) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise error(path, f"is a directory, expected {what}")
        if not stat.S_ISREG(st.st_mode):
            raise error(path, f"is {_KIND.get(stat.S_IFMT(st.st_mode), 'not a regular file')}, expected {what}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return f


def absolute(path: "str | os.PathLike[str]") -> str:
    """The path made absolute (~ expanded) without following symlinks: Path.resolve() raises on a symlink
    loop, and a user's path must reach open_regular to be refused with one line."""
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def file_size(f: BinaryIO) -> int:
    return os.fstat(f.fileno()).st_size


def _reason(e: OSError, what: str) -> str:
    if e.errno == errno.ENOENT:
        return "file not found"
    if e.errno == errno.ELOOP:
        return "symlink loop (the path resolves to itself)"
    if e.errno == errno.EISDIR:
        return f"is a directory, expected {what}"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.ENAMETOOLONG:
        return "file name too long"
    return f"cannot open ({e.strerror or e})"
