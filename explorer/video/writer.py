"""VideoWriter: frames in, a valid H.264 MP4 or GIF out, even when stopped early (Ctrl+C, cancel, error).

The file appears only when complete (written to a partial file, then renamed); Ctrl+C in the main thread
is held back while a frame is handed to the encoder or the file is finalised.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from ..errors import ExplorerError, OutputError
from ..files import commit, temp_path

VIDEO_FORMATS = (".mp4", ".gif")
MAX_FPS = 240
GIF_MAX_FPS = 50          # GIF delays are whole centiseconds; viewers slow delays under 2 cs down to 10 cs
GIF_MAX_BYTES = 2 << 30    # a GIF's frames are held in memory until it is written: longer walks go to MP4
DEFAULT_CRF = 18          # x264 constant rate factor: visually lossless for generated images


def parse_size(spec: Optional[str]) -> Optional[tuple[int, int]]:
    """'640x480' -> (640, 480)."""
    if spec is None:
        return None
    try:
        w, h = (int(v) for v in spec.lower().split("x"))
    except ValueError:
        raise ExplorerError(f"bad size {spec!r}: use WIDTHxHEIGHT, e.g. 512x512") from None
    if w < 2 or h < 2 or w > 8192 or h > 8192:
        raise ExplorerError(f"bad size {spec!r}: width and height must be 2..8192")
    return w, h


class VideoWriter:
    """Frames in, one at a time or in batches; out a valid .mp4 or .gif at `path`, even when stopped early.

    Frames go to `path`.tmp; close() finalises the encoder (x264 writes its index, Pillow the GIF)
    and renames the file into place, so `path` is never a half-written video. Frames whose size differs
    from `size` (default: the first frame's) are resized with Pillow. MP4s are H.264 in yuv420p, which
    needs even sizes: an explicit odd size is refused; odd frames without a size lose their last row or
    column. GIFs keep their frames in memory until close (they are short by nature); identical
    consecutive frames are merged by Pillow into one longer frame. Ctrl+C in the main thread is held back
    while a frame is handed to ffmpeg or the file is finalised, so an interrupt never tears a frame.
    Use from one thread at a time.
    """

    def __init__(self, path: "str | os.PathLike[str]", fps: float = 30, size: Optional[tuple[int, int]] = None,
                 crf: int = DEFAULT_CRF):
        self.path = Path(path)
        self.format = self.path.suffix.lower()
        if self.format not in VIDEO_FORMATS:
            raise OutputError(self.path, f"unsupported video format {self.format or '(none)'!r}: use .mp4 or .gif")
        if not 0 < fps <= MAX_FPS:
            raise ExplorerError(f"fps must be in (0, {MAX_FPS}], got {fps}")
        if self.format == ".gif" and fps > GIF_MAX_FPS:
            raise ExplorerError(f"GIF players cannot show more than {GIF_MAX_FPS} fps (asked {fps:g}): use .mp4 "
                                "or a lower --fps")
        if size is not None and self.format == ".mp4" and (size[0] % 2 or size[1] % 2):
            raise ExplorerError(f"size {size[0]}x{size[1]}: H.264 in yuv420p (the format every player reads) "
                                f"needs even width and height, e.g. {size[0] // 2 * 2}x{size[1] // 2 * 2}")
        if not self.path.parent.is_dir():
            raise OutputError(self.path, "output directory does not exist")
        self.fps, self.size, self.crf = fps, size, crf
        self.partial = temp_path(self.path)
        self.frames = 0
        self.encode_seconds = 0.0      # time spent handing frames to the encoder and finalising
        self._ffmpeg = None
        self.output: Optional[Path] = None   # set once the finished file is in place
        self._gif_frames: list[np.ndarray] = []
        self._closed = False

    def check_room(self, frames: int, size: tuple[int, int]) -> None:
        """Refuse up front a GIF whose frames (held in memory until close) would not fit in GIF_MAX_BYTES."""
        w, h = self.size or size
        need = frames * w * h * 3
        if self.format == ".gif" and need > GIF_MAX_BYTES:
            raise OutputError(self.path, f"a GIF of {frames} frames of {w}x{h} needs {need / 2**30:.1f} GB in memory "
                                         f"(at most {GIF_MAX_BYTES >> 30} GB): write an .mp4, or fewer frames")

    # --- frames ---------------------------------------------------------------------------------
    def append(self, frames: np.ndarray) -> None:
        """One frame [H, W, 3] or a batch [N, H, W, 3] of uint8 (a 4th, alpha channel is dropped)."""
        if self._closed:
            raise RuntimeError("VideoWriter is closed")
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.ndim != 4 or frames.shape[-1] not in (3, 4) or frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 [H, W, 3] or [N, H, W, 3], got {frames.dtype} {list(frames.shape)}")
        frames = frames[..., :3]
        t0 = time.perf_counter()
        with _sigint_held():  # a frame is counted exactly when the encoder has it
            for frame in frames:
                frame = self._fit(frame)
                if self.format == ".gif":
                    self._gif_frames.append(frame)
                else:
                    self._send(frame)
                self.frames += 1
        self.encode_seconds += time.perf_counter() - t0

    def _fit(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        even = (w - w % 2, h - h % 2) if self.format == ".mp4" else (w, h)
        if self.size is None:
            if min(even) < 2:
                raise ExplorerError(f"a frame of {w}x{h} pixels is too small for a video")
            self.size = even
        if (w, h) == self.size:
            return np.ascontiguousarray(frame)
        if even == self.size:
            return np.ascontiguousarray(frame[:even[1], :even[0]])  # odd frame: drop the last row/column
        from PIL import Image
        return np.asarray(Image.fromarray(frame).resize(self.size, Image.Resampling.LANCZOS))

    def _send(self, frame: np.ndarray) -> None:
        if self._ffmpeg is None:
            import imageio_ffmpeg
            self._ffmpeg = imageio_ffmpeg.write_frames(
                str(self.partial), self.size, fps=Fraction(self.fps).limit_denominator(1001), codec="libx264",
                pix_fmt_out="yuv420p", quality=None, macro_block_size=1, ffmpeg_log_level="error",
                output_params=["-crf", str(self.crf), "-preset", "medium", "-movflags", "+faststart", "-f", "mp4"])
            self._ffmpeg.send(None)
        try:
            self._ffmpeg.send(frame)
        except (OSError, StopIteration) as e:
            raise OutputError(self.path, f"ffmpeg stopped while encoding ({str(e).splitlines()[0][:160]})") from None

    # --- the file -------------------------------------------------------------------------------
    def close(self) -> Optional[Path]:
        """Finalise and move the video into place; returns its path, or None if no frame was written.

        Calling it again returns the same answer. A Ctrl+C during finalisation is raised only after the
        file is in place.
        """
        if self._closed:
            return self.output
        self._closed = True
        t0 = time.perf_counter()
        try:
            with _sigint_held():
                if self.frames == 0:
                    self._discard()
                    return None
                if self.format == ".gif":
                    self._write_gif()
                else:
                    self._ffmpeg.close()
                    self._ffmpeg = None
                if not self.partial.exists() or self.partial.stat().st_size == 0:
                    raise OutputError(self.path, "the encoder wrote no data")
                self.output = commit(self.partial, self.path, "video")
        except OSError as e:
            self._discard()
            raise OutputError(self.path, f"cannot write video ({e.strerror or e})") from None
        except BaseException:
            self._discard()
            raise
        finally:
            self.encode_seconds += time.perf_counter() - t0
        return self.output

    def abort(self) -> None:
        """Stop without producing a file (an error made the frames worthless)."""
        self._closed = True
        self._discard()

    def _discard(self) -> None:
        if self._ffmpeg is not None:
            self._ffmpeg.close()
            self._ffmpeg = None
        self._gif_frames = []
        self.partial.unlink(missing_ok=True)

    def _write_gif(self) -> None:
        import imageio.v3 as iio
        # Delays are whole centiseconds: spread the rounding so the total running time is exact.
        ends = np.round(np.arange(1, self.frames + 1) * 100 / self.fps).astype(np.int64)
        delays_ms = (np.diff(ends, prepend=0) * 10).tolist()
        iio.imwrite(self.partial, np.stack(self._gif_frames), extension=".gif", plugin="pillow",
                    duration=delays_ms, loop=0)
        self._gif_frames = []

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None or issubclass(exc_type, KeyboardInterrupt):
            self.close()   # complete, or stopped by the user: keep what was recorded
        else:
            self.abort()


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Defer Ctrl+C until the block is done (main thread only; elsewhere signals never arrive anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list = []
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # a handler installed outside Python: leave it alone
        yield
        return
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            if callable(previous):
                previous(signal.SIGINT, received[0])
            elif previous == signal.SIG_DFL:
                raise KeyboardInterrupt
