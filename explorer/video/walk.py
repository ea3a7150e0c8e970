"""Walks: a path through keyframe latents that stands in for source A of a RenderState, rendered to a video.

    keyframes (seeds, rows of projected .npz files, a session's A and B)
      --paths: linear or Catmull-Rom in W, slerp in Z-->  w per frame
      --the session's truncation, mixing with B and edits-->  ws per frame
      --render.frames: a batch of frames per forward pass, the session's noise, the camera: the session's,
        still, or one input transform per frame along camera keyframes of its own-->  uint8 frames
      --VideoWriter: H.264/yuv420p MP4 or GIF-->  walk.mp4 | walk.gif

A walk replaces source A of a RenderState (and its t: the walk is the interpolation); everything else in
the state applies to every frame: truncation psi/cutoff, mixing weights towards source B, edits, noise
mode / seed / per-layer scales, device and precision, and the camera unless the walk has its own camera
path. The output file appears only when complete, or when
a run is stopped (cancel event, Ctrl+C), as a valid shorter video with the frames rendered so far.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import threading
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

from ..errors import ExplorerError
from ..io.files import absolute
from ..latents import load_ws, one_hot, z_from_seed
from ..nn.family import FamilyGenerator
from ..render.camera import input_transforms
from ..render.frames import render_frames, state_frame_settings
from ..render.renderer import Renderer
from ..render.state import INTERP_SPACES, TRANSLATE_RANGE, RenderState, Source
from .paths import INTERPS, MAX_FRAMES_PER_KEY, interpolate, path_weights, slerp_path, spread_path, walk_length
from .writer import DEFAULT_CRF, VideoWriter

Camera = tuple[float, float, float]     # a camera keyframe: translate x, y (image widths), rotate (degrees)

MAX_WALK_BYTES = 2 << 30    # the ws of every frame are held at once (a 1024 px model: ~19 k frames)


@dataclasses.dataclass(frozen=True)
class Walk:
    """A path through keyframe latents; it stands in for source A of a RenderState, frame by frame.

    The camera (models with an input transform) either holds still at the state's translate / rotate while the
    latent morphs, or follows keyframes of its own, spread evenly over the walk; with one latent keyframe and
    a camera path only the camera moves, frames_per_key frames from one camera keyframe to the next.
    """

    keyframes: tuple[Source, ...]
    frames_per_key: int = 60
    loop: bool = False
    interp: str = "cubic"         # 'linear' | 'cubic' (in W, and for the camera)
    space: str = "w"              # 'w' | 'z' (slerp between seed keyframes, then the mapping network)
    camera: tuple[Camera, ...] = ()   # (tx, ty, degrees) keyframes; () holds the state's camera still

    def __post_init__(self) -> None:
        object.__setattr__(self, "camera", tuple(tuple(float(v) for v in c) for c in self.camera))
        lo, hi = TRANSLATE_RANGE
        if len(self.camera) == 1 or any(len(c) != 3 or not all(math.isfinite(v) for v in c)
                                        or not all(lo <= v <= hi for v in c[:2]) for c in self.camera):
            raise ExplorerError(f"a camera path needs at least 2 keyframes (tx, ty, degrees), tx and ty in "
                                f"[{lo:g}, {hi:g}] image widths")
        if len(self.keyframes) < (1 if self.camera else 2):
            raise ExplorerError(f"a walk needs at least 2 keyframes (or 1 and a camera path), got {len(self.keyframes)}")
        if not 1 <= self.frames_per_key <= MAX_FRAMES_PER_KEY:
            raise ExplorerError(f"frames per keyframe must be in 1..{MAX_FRAMES_PER_KEY}, got {self.frames_per_key}")
        if self.interp not in INTERPS:
            raise ExplorerError(f"interpolation must be one of {', '.join(INTERPS)}, got {self.interp!r}")
        if self.space not in INTERP_SPACES:
            raise ExplorerError(f"space must be 'w' or 'z', got {self.space!r}")
        if self.space == "z":
            if self.interp != "linear":
                raise ExplorerError("a Z-space walk follows great circles between seeds (slerp): use linear "
                                    "interpolation, or W space for a cubic path")
            if any(k.w_path for k in self.keyframes):
                raise ExplorerError("a Z-space walk needs seed keyframes (a w from a file has no z): use W space")

    def __len__(self) -> int:
        keys = len(self.keyframes) if len(self.keyframes) > 1 else len(self.camera)
        return walk_length(keys, self.frames_per_key, self.loop)


def walk_transforms(walk: Walk, device: "torch.device | str" = "cpu") -> Optional[torch.Tensor]:
    """The input transform of every frame [N, 3, 3] along the walk's camera path (None: the camera holds still)."""
    if not walk.camera:
        return None
    path = spread_path(torch.tensor(walk.camera, dtype=torch.float64), len(walk), walk.loop, walk.interp)
    return input_transforms(path.numpy(), device)


def walk_ws(walk: Walk, state: RenderState, renderer: Optional[Renderer] = None) -> torch.Tensor:
    """ws [N, num_ws, w_dim] for every frame of a walk, on the state's device.

    Keyframes are sources as the renderer reads them (a seed through the mapping network, or a row of a
    w / w+ .npz), with source A's class for seeds. The path runs through their raw w (or z); then each
    frame gets the state's own treatment of A (Renderer.compute_ws with w_a): truncation, mixing towards B
    and edits; t is set to 0 because the walk replaces the A -> B interpolation.
    """
    renderer = renderer or Renderer()
    G = renderer.model_for(state).G
    need = len(walk) * G.num_ws * G.w_dim * 4 * 3   # the path, then truncated and mixed copies of it
    if need > MAX_WALK_BYTES:
        most = MAX_WALK_BYTES // (G.num_ws * G.w_dim * 4 * 3)
        raise ExplorerError(f"a walk of {len(walk)} frames needs {need / 2**30:.1f} GB of latents for this model; "
                            f"make it at most {most} frames (fewer keyframes or frames per keyframe)")
    plain = state.replace(t=0.0, psi=1.0, cutoff=None, mix=(), edits=())
    keys = [k if k.w_path or k.class_idx is not None else dataclasses.replace(k, class_idx=state.a.class_idx)
            for k in walk.keyframes]
    with torch.no_grad():
        if len(keys) == 1:   # the camera moves, the latent holds
            w = renderer.compute_ws(plain.replace(a=keys[0]), G).expand(len(walk), -1, -1).clone()
        elif walk.space == "w":
            key_ws = torch.cat([renderer.compute_ws(plain.replace(a=k), G) for k in keys])
            w = interpolate(key_ws, *path_weights(len(keys), walk.frames_per_key, walk.loop, walk.interp))
        else:
            zs = torch.cat([torch.from_numpy(z_from_seed(k.seed, G.z_dim)).float() for k in keys])
            z = slerp_path(zs, walk.frames_per_key, walk.loop).to(G.device)
            c = _class_path(keys, walk, G)
            w = torch.cat([G.mapping(z[i:i + 256], None if c is None else c[i:i + 256])
                           for i in range(0, len(z), 256)])
        return renderer.compute_ws(state.replace(t=0.0), G, w_a=w)


def _class_path(keys: Sequence[Source], walk: Walk, G: FamilyGenerator) -> Optional[torch.Tensor]:
    if G.c_dim == 0:
        for k in keys:
            one_hot(k.class_idx, 0)  # raises the usual message if a class was given
        return None
    cs = torch.cat([one_hot(k.class_idx, G.c_dim, device=G.device) for k in keys])
    return interpolate(cs, *path_weights(len(keys), walk.frames_per_key, walk.loop, "linear"))


def keyframes_from_seeds(seeds: Sequence[int], class_idx: Optional[int] = None) -> tuple[Source, ...]:
    return tuple(Source(seed=s, class_idx=class_idx) for s in seeds)


def keyframes_from_npz(paths: Sequence["str | os.PathLike[str]"], num_ws: int, w_dim: int) -> tuple[Source, ...]:
    """Every row of every file, in order (a projection's projected_w.npz holds one)."""
    keys: list[Source] = []
    for p in paths:
        rows = load_ws(p, num_ws, w_dim).shape[0]
        keys += [Source(w_path=absolute(p), w_row=r) for r in range(rows)]
    return tuple(keys)


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
        writer.check_room(len(walk), (G.img_resolution, G.img_resolution))
        if walk.camera and not G.layer_table.has_transform:
            raise ExplorerError("a camera path needs a model with an input transform (StyleGAN3); this one has none")
        ws = walk_ws(walk, state, renderer)
        settings = state_frame_settings(state, renderer)
        if walk.camera:
            settings = dataclasses.replace(settings, transform=walk_transforms(walk, G.device))
        frames = render_frames(G, ws, settings, batch_size)
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
