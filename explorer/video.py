"""Interpolation walks through keyframes, rendered in batches and recorded to MP4 or GIF.

    keyframes (seeds, rows of projected .npz files, a session's A and B)
      --path: linear or Catmull-Rom in W, slerp in Z-->  w per frame
      --the session's truncation, mixing with B and edits-->  ws per frame
      --synthesis, a batch of frames per forward pass, the session's noise-->  uint8 frames
      --VideoWriter: H.264/yuv420p MP4 (imageio-ffmpeg) or GIF (imageio + Pillow)-->  walk.mp4 | walk.gif

A walk replaces source A of a RenderState (and its t: the walk is the interpolation); everything else in
the state applies to every frame: truncation psi/cutoff, mixing weights towards source B, edits, noise
mode / seed / per-layer scales, device and precision. The output file appears only when complete, or when
a run is stopped (cancel event, Ctrl+C), as a valid shorter video with the frames rendered so far.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch

from .errors import ExplorerError, OutputError
from .images import to_uint8
from .latents import one_hot, z_from_seed
from .nn.generator import Generator
from .render.renderer import Renderer, slerp
from .render.state import RenderState, Source

INTERPS = ("linear", "cubic")
SPACES = ("w", "z")
VIDEO_FORMATS = (".mp4", ".gif")
GIF_MAX_FPS = 50          # GIF delays are whole centiseconds; viewers slow delays under 2 cs down to 10 cs
DEFAULT_CRF = 18          # x264 constant rate factor: visually lossless for generated images


# --- Paths through keyframes -----------------------------------------------------------------------

def walk_length(num_keys: int, frames_per_key: int, loop: bool) -> int:
    """Frames in a walk: an open walk ends on its last keyframe, a loop stops one frame before its start."""
    return num_keys * frames_per_key if loop else (num_keys - 1) * frames_per_key + 1


def path_weights(num_keys: int, frames_per_key: int, loop: bool, interp: str) -> tuple[np.ndarray, np.ndarray]:
    """(keyframe indices [N, k], weights [N, k]): frame n is sum_j weights[n, j] * key[indices[n, j]].

    Frame i * frames_per_key is keyframe i exactly (weights one-hot). 'cubic' is a uniform Catmull-Rom
    spline: C1 everywhere and, with loop, across the seam (indices wrap), so a looped video has no jolt.
    Open ends repeat the end keyframes. Each row of weights sums to 1.
    """
    if interp not in INTERPS:
        raise ValueError(f"interp must be one of {INTERPS}, got {interp!r}")
    n = walk_length(num_keys, frames_per_key, loop)
    pos = np.arange(n, dtype=np.float64) / frames_per_key
    seg = np.minimum(np.floor(pos).astype(np.int64), num_keys - 1 if loop else num_keys - 2)
    s = pos - seg

    def key(i: np.ndarray) -> np.ndarray:
        return i % num_keys if loop else np.clip(i, 0, num_keys - 1)

    if interp == "linear":
        return np.stack([key(seg), key(seg + 1)], 1), np.stack([1 - s, s], 1)
    s2, s3 = s * s, s * s * s
    weights = np.stack([(-s3 + 2 * s2 - s) / 2, (3 * s3 - 5 * s2 + 2) / 2, (-3 * s3 + 4 * s2 + s) / 2, (s3 - s2) / 2], 1)
    return np.stack([key(seg - 1), key(seg), key(seg + 1), key(seg + 2)], 1), weights


def interpolate(keys: torch.Tensor, indices: np.ndarray, weights: np.ndarray) -> torch.Tensor:
    """keys [K, ...] -> frames [N, ...] by path_weights' indices and weights.

    Sums run in float64, so a keyframe's own frame reproduces it bit for bit; 1024 frames at a time, so
    a long walk costs no more transient memory than its float32 result.
    """
    n, k = indices.shape
    mat = np.zeros([n, keys.shape[0]])
    np.add.at(mat, (np.repeat(np.arange(n), k), indices.reshape(-1)), weights.reshape(-1))
    mat = torch.from_numpy(mat).to(keys.device)
    flat_keys = keys.reshape(keys.shape[0], -1).double()
    out = torch.empty([n, *keys.shape[1:]], dtype=keys.dtype, device=keys.device)
    for i in range(0, n, 1024):
        out[i:i + 1024] = (mat[i:i + 1024] @ flat_keys).reshape(-1, *keys.shape[1:]).to(keys.dtype)
    return out


def slerp_path(zs: torch.Tensor, frames_per_key: int, loop: bool) -> torch.Tensor:
    """z [K, z_dim] -> z per frame [N, z_dim]: great-circle arcs between consecutive keyframes."""
    indices, weights = path_weights(len(zs), frames_per_key, loop, "linear")
    return torch.cat([slerp(zs[i:i + 1], zs[j:j + 1], float(t))
                      for (i, j), t in zip(indices, weights[:, 1])])


# --- Walks in a session ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Walk:
    """A path through keyframe latents; it stands in for source A of a RenderState, frame by frame."""

    keyframes: tuple[Source, ...]
    frames_per_key: int = 60
    loop: bool = False
    interp: str = "cubic"         # 'linear' | 'cubic' (in W)
    space: str = "w"              # 'w' | 'z' (slerp between seed keyframes, then the mapping network)

    def __post_init__(self) -> None:
        if len(self.keyframes) < 2:
            raise ExplorerError(f"a walk needs at least 2 keyframes, got {len(self.keyframes)}")
        if self.frames_per_key < 1:
            raise ExplorerError(f"frames per keyframe must be >= 1, got {self.frames_per_key}")
        if self.interp not in INTERPS:
            raise ExplorerError(f"interpolation must be one of {', '.join(INTERPS)}, got {self.interp!r}")
        if self.space not in SPACES:
            raise ExplorerError(f"space must be 'w' or 'z', got {self.space!r}")
        if self.space == "z":
            if self.interp != "linear":
                raise ExplorerError("--space z walks great circles between seeds (slerp): use --interp linear "
                                    "or --space w for a cubic path")
            if any(k.w_path for k in self.keyframes):
                raise ExplorerError("--space z needs seed keyframes: projected ws have no z (use --space w)")

    def __len__(self) -> int:
        return walk_length(len(self.keyframes), self.frames_per_key, self.loop)


def walk_ws(walk: Walk, state: RenderState, renderer: Optional[Renderer] = None) -> torch.Tensor:
    """ws [N, num_ws, w_dim] for every frame of a walk, on the state's device.

    Keyframes are sources as the renderer reads them (a seed through the mapping network, or a row of a
    w / w+ .npz), with source A's class for seeds. The path runs through their raw w (or z); then each
    frame gets the state's own treatment of A (Renderer.compute_ws with w_a): truncation, mixing towards B
    and edits; t is set to 0 because the walk replaces the A -> B interpolation.
    """
    renderer = renderer or Renderer()
    G = renderer.model_for(state).G
    plain = state.replace(t=0.0, psi=1.0, cutoff=None, mix=(), edits=())
    keys = [k if k.w_path or k.class_idx is not None else dataclasses.replace(k, class_idx=state.a.class_idx)
            for k in walk.keyframes]
    with torch.no_grad():
        if walk.space == "w":
            key_ws = torch.cat([renderer.compute_ws(plain.replace(a=k), G) for k in keys])
            w = interpolate(key_ws, *path_weights(len(keys), walk.frames_per_key, walk.loop, walk.interp))
        else:
            zs = torch.cat([torch.from_numpy(z_from_seed(k.seed, G.z_dim)).float() for k in keys])
            z = slerp_path(zs, walk.frames_per_key, walk.loop).to(G.device)
            c = _class_path(keys, walk, G)
            w = torch.cat([G.mapping(z[i:i + 256], None if c is None else c[i:i + 256])
                           for i in range(0, len(z), 256)])
        return renderer.compute_ws(state.replace(t=0.0), G, w_a=w)


def _class_path(keys: Sequence[Source], walk: Walk, G: Generator) -> Optional[torch.Tensor]:
    if G.c_dim == 0:
        for k in keys:
            one_hot(k.class_idx, 0)  # raises the usual message if a class was given
        return None
    cs = torch.cat([one_hot(k.class_idx, G.c_dim, device=G.device) for k in keys])
    return interpolate(cs, *path_weights(len(keys), walk.frames_per_key, walk.loop, "linear"))


# --- Frames from ws --------------------------------------------------------------------------------

@dataclasses.dataclass
class FrameSettings:
    """How ws become pixels, besides the ws themselves (arguments of G.synthesis)."""

    noise_mode: str = "const"
    noise: Optional[dict[str, torch.Tensor]] = None      # layer -> [1 or N, 1, R, R]
    noise_scales: Optional[dict[str, float]] = None      # layer -> multiplier (0 = off)
    low_precision: Optional[tuple[torch.dtype, int]] = None
    channels_last: bool = True


def state_frame_settings(state: RenderState, renderer: Renderer) -> FrameSettings:
    """A state's noise (mode, seeded noise, per-layer scales, switched-off resolutions) and precision plan.

    The same rule as the Renderer's: scale 0 for layers at resolutions in noise_off_res, else the layer's
    scale; 'random' noise is G.make_noise(noise_seed), the same for every frame (no flicker).
    """
    model = renderer.model_for(state)
    noise, scales = renderer.noise_inputs(state, model.G)
    return FrameSettings(state.noise_mode, noise, scales, model.low_precision, model.channels_last)


def default_batch_size(G: Generator) -> int:
    """Frames per forward pass: 8 up to 128 px, 4 at 256 px, then 1 (about 0.25 MPix of output).

    Measured with benchmarks/video_fps.py on 2 CPU cores (one torch thread, CPU time per frame): at 64 px
    batch 8 needs half the time of batch 1 (20 vs 37 ms/frame) and larger batches gain nothing; at 256 px
    (config-f) batching saves under 5% and only costs memory. On a GPU pass --batch to go higher.
    """
    return int(max(1, min(8, 2 ** 18 // (G.img_resolution ** 2))))


@torch.no_grad()
def render_frames(G: Generator, ws: torch.Tensor, settings: Optional[FrameSettings] = None,
                  batch_size: Optional[int] = None, uint8: bool = True) -> Iterator[np.ndarray]:
    """Yield frames batch by batch: uint8 [B, H, W, 3], or with uint8=False the raw float [B, C, H, W].

    Noise tensors with one row per frame (N rows) are sliced per batch; single-row noise is shared.
    """
    settings = settings or FrameSettings()
    batch_size = batch_size or default_batch_size(G)
    n = ws.shape[0]
    for i in range(0, n, batch_size):
        j = min(i + batch_size, n)
        noise = settings.noise
        if noise is not None:
            noise = {k: (v[i:j] if v.shape[0] == n else v) for k, v in noise.items()}
        img = G.synthesis(ws[i:j].to(G.device), noise_mode=settings.noise_mode, noise=noise,
                          noise_scales=settings.noise_scales, low_precision=settings.low_precision,
                          channels_last=settings.channels_last)
        yield to_uint8(img).cpu().numpy() if uint8 else img.float().cpu().numpy()


# --- Writing video files ---------------------------------------------------------------------------

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

    Frames go to `path`.tmp-partial; close() finalises the encoder (x264 writes its index, Pillow the GIF)
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
        if not 0 < fps <= 240:
            raise ExplorerError(f"fps must be in (0, 240], got {fps}")
        if self.format == ".gif" and fps > GIF_MAX_FPS:
            raise ExplorerError(f"GIF players cannot show more than {GIF_MAX_FPS} fps (asked {fps:g}): use .mp4 "
                                "or a lower --fps")
        if size is not None and self.format == ".mp4" and (size[0] % 2 or size[1] % 2):
            raise ExplorerError(f"size {size[0]}x{size[1]}: H.264 in yuv420p (the format every player reads) "
                                f"needs even width and height, e.g. {size[0] // 2 * 2}x{size[1] // 2 * 2}")
        if not self.path.parent.is_dir():
            raise OutputError(self.path, "output directory does not exist")
        self.fps, self.size, self.crf = fps, size, crf
        self.partial = self.path.with_name(self.path.name + ".tmp-partial")
        self.frames = 0
        self.encode_seconds = 0.0      # time spent handing frames to the encoder and finalising
        self._ffmpeg = None
        self.output: Optional[Path] = None   # set once the finished file is in place
        self._gif_frames: list[np.ndarray] = []
        self._closed = False

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
                os.replace(self.partial, self.path)
                self.output = self.path
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


# --- Rendering a walk to a file --------------------------------------------------------------------

@dataclasses.dataclass
class RecordResult:
    path: Optional[Path]           # the video, None when no frame was written
    frames: int                    # frames in the file
    requested: int                 # frames the walk has
    cancelled: bool = False        # stopped early (cancel event or Ctrl+C)
    render_seconds: float = 0.0    # synthesis + conversion to uint8 on the host
    encode_seconds: float = 0.0    # handing frames to the encoder + finalising the file
    size: Optional[tuple[int, int]] = None   # (width, height) of the frames in the file


class RecordingInterrupted(KeyboardInterrupt):
    """Ctrl+C during render_walk, after the frames so far were saved as a valid video (see .result)."""

    def __init__(self, result: RecordResult):
        super().__init__(f"interrupted after {result.frames} of {result.requested} frames")
        self.result = result


def render_walk(
    walk: Walk,
    state: RenderState,
    out: "str | os.PathLike[str]",
    fps: float = 30,
    size: Optional[tuple[int, int]] = None,
    batch_size: Optional[int] = None,
    progress: Optional[Callable[[int, int], None]] = None,   # (frames done, frames total), after each batch
    cancel: Optional[threading.Event] = None,                # set it to stop early and keep what was done
    renderer: Optional[Renderer] = None,
    crf: int = DEFAULT_CRF,
) -> RecordResult:
    """Render every frame of a walk through `state` and write the video to `out`.

    For a GUI thread: progress reports after each batch; cancel stops at the next batch and returns a
    result with cancelled=True and a valid shorter file. Ctrl+C (KeyboardInterrupt, wherever raised,
    including from progress) saves the frames so far, then raises RecordingInterrupted carrying the result.
    """
    writer = VideoWriter(out, fps=fps, size=size, crf=crf)   # checks the output before any work
    result = RecordResult(path=None, frames=0, requested=len(walk))
    renderer = renderer or Renderer()
    try:
        G = renderer.model_for(state).G
        ws = walk_ws(walk, state, renderer)
        frames = render_frames(G, ws, state_frame_settings(state, renderer), batch_size)
        while not (cancel is not None and cancel.is_set()):
            t0 = time.perf_counter()
            batch = next(frames, None)
            result.render_seconds += time.perf_counter() - t0
            if batch is None:
                break
            writer.append(batch)
            if progress is not None:
                progress(writer.frames, result.requested)
        _finish(writer, result)
    except KeyboardInterrupt as e:
        with contextlib.suppress(KeyboardInterrupt):  # another Ctrl+C while finalising: the file is kept anyway
            _finish(writer, result)
        raise RecordingInterrupted(result) from e
    except BaseException:
        writer.abort()
        raise
    return result


def _finish(writer: VideoWriter, result: RecordResult) -> None:
    try:
        writer.close()
    finally:
        result.path = writer.output
        result.frames = writer.frames if writer.output else 0
        result.cancelled = result.frames < result.requested
        result.encode_seconds = writer.encode_seconds
        result.size = writer.size


def keyframes_from_seeds(seeds: Sequence[int], class_idx: Optional[int] = None) -> tuple[Source, ...]:
    return tuple(Source(seed=s, class_idx=class_idx) for s in seeds)


def keyframes_from_npz(paths: Sequence["str | os.PathLike[str]"], num_ws: int, w_dim: int) -> tuple[Source, ...]:
    """Every row of every file, in order (a projection's projected_w.npz holds one)."""
    from .latents import load_ws
    keys: list[Source] = []
    for p in paths:
        rows = load_ws(p, num_ws, w_dim).shape[0]
        keys += [Source(w_path=str(Path(p).resolve()), w_row=r) for r in range(rows)]
    return tuple(keys)


__all__ = ["Walk", "walk_ws", "walk_length", "path_weights", "interpolate", "slerp_path",
           "FrameSettings", "state_frame_settings", "render_frames", "default_batch_size", "VideoWriter",
           "RecordResult", "RecordingInterrupted", "render_walk", "parse_size", "keyframes_from_seeds",
           "keyframes_from_npz"]
