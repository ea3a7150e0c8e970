"""Videos of walks through latent space: paths through keyframes, walks under a RenderState, the writer."""
from __future__ import annotations

from .paths import INTERPS, interpolate, path_weights, slerp_path, spread_path, walk_length
from .walk import (Camera, RecordingInterrupted, RecordResult, Walk, keyframes_from_npz, keyframes_from_seeds,
                   render_walk, walk_transforms, walk_ws)
from .writer import DEFAULT_CRF, GIF_MAX_FPS, MAX_FPS, VIDEO_FORMATS, VideoWriter, parse_size

__all__ = ["INTERPS", "VIDEO_FORMATS", "MAX_FPS", "GIF_MAX_FPS", "DEFAULT_CRF", "walk_length", "path_weights",
           "interpolate", "slerp_path", "spread_path", "Camera", "Walk", "walk_ws", "walk_transforms",
           "keyframes_from_seeds", "keyframes_from_npz",
           "render_walk", "RecordResult", "RecordingInterrupted", "VideoWriter", "parse_size"]
