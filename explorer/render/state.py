"""RenderState: everything that decides the pixels on screen, as one frozen, JSON-serialisable value.

Widgets, the CLI, videos, grids and tests all describe a frame with a RenderState; the Renderer turns it
into pixels. The same state renders the same pixels on the same device. `conform` fits a state to a model,
so a state made for one model renders on another.
"""
from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Protocol

from ..errors import SessionError
from ..files import atomic_write
from ..io.files import open_regular
from ..io.validate import LIMITS
from ..latents import MAX_SEEDS, SEED_RANGE
from ..nn.family import NOISE_MODES

if TYPE_CHECKING:
    from ..nn.layer_table import LayerTable

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
INTERP_SPACES = ("w", "z")              # A -> B (and walks): lerp in W, or slerp in Z (seeds only)
PSI_RANGE = (-1.0, 2.0)                # truncation: 0 = the average w, 1 = as sampled, < 0 = the opposite
NOISE_SCALE_RANGE = (0.0, 2.0)         # per noise layer: 0 = off, 1 = as trained
TRANSLATE_RANGE = (-2.0, 2.0)          # input transform (StyleGAN3): shift of the picture, in image widths
ROTATE_RANGE = (-180.0, 180.0)         # input transform: turn of the picture, degrees
STATE_VERSION = 1
RANGES = {                         # the values a numeric field may take (and a slider's or a MIDI knob's span)
    "t": (0.0, 1.0),
    "psi": PSI_RANGE,
    "mix": (0.0, 1.0),             # each weight
    "noise_scales": NOISE_SCALE_RANGE,   # each scale
    "alpha": (-5.0, 5.0),          # an edit's alpha, in standard deviations of w
    "blend": (0.0, 1.0),           # each layer's blend weight
    "translate": TRANSLATE_RANGE,  # each of x, y
    "rotate": ROTATE_RANGE,
}
EXTRAS_KEY = "extras"              # a session's data that does not decide pixels (bookmarks, MIDI): see explorer.live
MAX_LIST = 4096                    # entries of a per-layer list or of the edits (a 1024 px model has 18 ws)
MAX_CLASS = LIMITS["c_dim"][1] - 1     # the largest class index any loadable generator has
MAX_SESSION_BYTES = 16 << 20       # a session file is a few kB
__all__ = ["SEED_RANGE"]           # its home is latents.py; live controls read it from here


# --- checks of values that may come from a file ----------------------------------------------------

def _check(ok: bool, msg: str) -> None:
    if not ok:
        raise ValueError(msg)


def _check_range(field: str, value: Any) -> None:
    lo, hi = RANGES[field]
    _check(_is_number(value) and lo <= value <= hi, f"{field} must be in [{lo:g}, {hi:g}], got {_show(value)}")


def _is_int(value: Any, lo: int, hi: int) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and lo <= value <= hi


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(value: Any, what: str, lo: int, hi: int) -> None:
    _check(_is_int(value, lo, hi), f"{what} must be an integer {lo}..{hi}, got {_show(value)}")


def _check_file_name(value: Any, what: str) -> None:
    _check(value is None or (isinstance(value, str) and value != ""), f"{what} must be a file name or null, got {_show(value)}")


def _plain(obj: Any, **kinds: type) -> None:
    """Store numbers of a frozen dataclass as Python int / float (numpy scalars would not serialise)."""
    for name, kind in kinds.items():
        value = getattr(obj, name)
        if value is not None:
            object.__setattr__(obj, name, kind(value))


def _fields(cls: type, d: dict, what: str) -> Any:
    """cls(**d), with unknown keys named (a TypeError from the constructor would not say which)."""
    unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
    _check(not unknown, f"unknown fields in {what}: {', '.join(str(k)[:40] for k in unknown)}")
    return cls(**d)


def _show(value: Any) -> str:
    """A value from a file, short: numbers and short strings as they are, anything else by its type."""
    if isinstance(value, bool) or value is None or (isinstance(value, (int, float)) and abs(value) < 1e15):
        return json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    if isinstance(value, (int, float)):
        return f"{float(value):.3g}" if not isinstance(value, int) or value.bit_length() < 1000 else "a huge integer"
    if isinstance(value, str):
        return json.dumps(value[:40])
    return f"a {type(value).__name__}"


class ModelShape(Protocol):
    """What fitting a state to a model needs to know of it (a Generator and the app's ModelInfo both have it)."""

    c_dim: int                  # Number of classes (0: unconditional).
    layer_table: "LayerTable"   # Its w indices, levels and noise layers.


@dataclasses.dataclass(frozen=True)
class Source:
    """One latent: a seed (z by NVlabs' convention, mapped to w) or row `w_row` of a w / w+ .npz file."""

    seed: int = 0
    w_path: Optional[str] = None
    w_row: int = 0
    class_idx: Optional[int] = None

    def __post_init__(self) -> None:
        _check_int(self.seed, "seed", *SEED_RANGE)
        _check_file_name(self.w_path, "w_path")
        _check_int(self.w_row, "w_row", 0, MAX_SEEDS)
        _check(self.class_idx is None or _is_int(self.class_idx, 0, MAX_CLASS),
               f"class_idx must be null or an integer 0..{MAX_CLASS}, got {_show(self.class_idx)}")
        _plain(self, seed=int, w_row=int, class_idx=int)

    def describe(self) -> str:
        if self.w_path:
            return f"{Path(self.w_path).name}[{self.w_row}]"
        return f"seed {self.seed}" + (f" class {self.class_idx}" if self.class_idx is not None else "")


@dataclasses.dataclass(frozen=True)
class Edit:
    """A move along direction `index` of `directions` ('sefa' or an .npz path), on w indices `layers`.

    alpha counts standard deviations of the model's own w along that direction (measured once per model),
    so -3..3 spans what the generator actually samples, whatever the checkpoint.
    """

    directions: str = "sefa"
    index: int = 0
    alpha: float = 0.0
    layers: str = "all"           # 'all', 'coarse', 'middle', 'fine', '0-3', ...

    def __post_init__(self) -> None:
        _check(isinstance(self.directions, str) and self.directions != "", "an edit's directions must be 'sefa' or a file")
        _check_int(self.index, "an edit's index", 0, MAX_LIST)
        _check_range("alpha", self.alpha)
        _check(isinstance(self.layers, str), "an edit's layers must be a range like 'all' or '0-3'")
        _plain(self, index=int, alpha=float)


@dataclasses.dataclass(frozen=True)
class RenderState:
    checkpoint: Optional[str] = None          # None = the bundled generator
    device: str = "auto"
    precision: str = "auto"
    a: Source = Source(seed=0)
    b: Source = Source(seed=1)
    t: float = 0.0                            # interpolation A -> B, applied before mixing
    interp_space: str = "w"                   # 'w' (lerp) or 'z' (slerp, seeds only)
    mix: tuple[float, ...] = ()               # per w index, 0 = A, 1 = B (missing entries = 0)
    psi: float = 1.0                          # truncation
    cutoff: Optional[int] = None              # truncate only w indices < cutoff
    noise_mode: str = "const"
    noise_seed: int = 0                       # for noise_mode 'random'
    noise_scales: tuple[float, ...] = ()      # per noise layer, in layer order (missing entries = 1)
    noise_off_res: tuple[int, ...] = ()       # resolutions whose noise is switched off
    edits: tuple[Edit, ...] = ()              # semantic direction offsets
    blend_with: Optional[str] = None          # a second checkpoint of the same architecture (None: no blend)
    blend: tuple[float, ...] = ()             # per synthesis layer, in layer order: 0 = checkpoint, 1 = blend_with
    translate: tuple[float, float] = (0.0, 0.0)   # input transform (models that have one): picture shift, image widths
    rotate: float = 0.0                       # input transform: picture turn, degrees

    def __post_init__(self) -> None:
        # Lists arrive as lists of ints from JSON and from callers (`mix=(0,) * 8 + (1, 1)`): store floats.
        for name, kind in (("mix", float), ("noise_scales", float), ("noise_off_res", int), ("blend", float),
                           ("translate", float)):
            values = getattr(self, name)
            _check(isinstance(values, (tuple, list)) and len(values) <= MAX_LIST
                   and all(_is_number(v) if kind is float else _is_int(v, 0, 1 << 20) for v in values),
                   f"{name} must be a list of at most {MAX_LIST} {'numbers' if kind is float else 'resolutions'}")
            object.__setattr__(self, name, tuple(kind(v) for v in values))
        _check_file_name(self.checkpoint, "checkpoint")
        _check_file_name(self.blend_with, "blend_with")
        _check(isinstance(self.a, Source) and isinstance(self.b, Source), "a and b must be sources (a seed or a w file)")
        _check(isinstance(self.edits, (tuple, list)) and len(self.edits) <= MAX_LIST
               and all(isinstance(e, Edit) for e in self.edits), "edits must be a list of edits")
        object.__setattr__(self, "edits", tuple(self.edits))
        _check(self.device in DEVICES, f"device must be one of {DEVICES}, got {_show(self.device)}")
        _check(self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}, got {_show(self.precision)}")
        _check(self.noise_mode in NOISE_MODES, f"noise_mode must be one of {NOISE_MODES}, got {_show(self.noise_mode)}")
        _check(self.interp_space in INTERP_SPACES, f"interp_space must be one of {INTERP_SPACES}, got {_show(self.interp_space)}")
        _check_range("t", self.t)
        _check_range("psi", self.psi)
        for m in self.mix:
            _check_range("mix", m)
        for s in self.noise_scales:
            _check_range("noise_scales", s)
        for b in self.blend:
            _check_range("blend", b)
        _check(self.cutoff is None or _is_int(self.cutoff, 0, MAX_LIST),
               f"cutoff must be null or an integer >= 0, got {_show(self.cutoff)}")
        _check_int(self.noise_seed, "noise_seed", *SEED_RANGE)
        _check(len(self.translate) == 2, f"translate must be two numbers (x, y), got {list(self.translate)}")
        for v in self.translate:
            _check_range("translate", v)
        _check(_is_number(self.rotate), f"rotate must be a number, got {_show(self.rotate)}")
        _check_range("rotate", self.rotate)
        _plain(self, t=float, psi=float, cutoff=int, noise_seed=int, rotate=float)

    # --- conveniences -----------------------------------------------------------------------------
    def replace(self, **changes: Any) -> "RenderState":
        return dataclasses.replace(self, **changes)

    def mix_weight(self, i: int) -> float:
        return self.mix[i] if i < len(self.mix) else 0.0

    def with_mix(self, indices: "list[int] | range", value: float, num_ws: int) -> "RenderState":
        """Set the mix weight of several w indices (a coarse/middle/fine group, say) at once."""
        mix = [self.mix_weight(i) for i in range(num_ws)]
        for i in indices:
            mix[i] = float(value)
        return self.replace(mix=tuple(mix))

    def noise_scale(self, i: int) -> float:
        return self.noise_scales[i] if i < len(self.noise_scales) else 1.0

    def with_noise_scale(self, i: int, value: float, num_layers: int) -> "RenderState":
        scales = [self.noise_scale(k) for k in range(num_layers)]
        scales[i] = float(value)
        return self.replace(noise_scales=tuple(scales))

    def blend_weight(self, i: int) -> float:
        """Layer i's blend weight (missing entries = 0: the checkpoint's own layer)."""
        return self.blend[i] if i < len(self.blend) and self.blend_with else 0.0

    def with_blend(self, indices: "list[int] | range", value: float, num_layers: int) -> "RenderState":
        weights = [self.blend[k] if k < len(self.blend) else 0.0 for k in range(num_layers)]
        for i in indices:
            weights[i] = float(value)
        return self.replace(blend=tuple(weights))

    # --- the model -------------------------------------------------------------------------------------
    def model_fields(self) -> tuple[Optional[str], str, str]:
        """The part of the state that picks the model: changing it means loading one."""
        return (self.checkpoint, self.device, self.precision)

    def conform(self, model: ModelShape) -> "RenderState":
        """This state fitted to `model`: a class for conditional models (none otherwise), per-layer lists and
        the cutoff trimmed to its layers, edits on ranges it lacks ('fine' on a 32 px model) dropped, the camera
        (translate, rotate) at rest for a model without an input transform."""
        table = model.layer_table

        def fit(src: Source) -> Source:
            if model.c_dim == 0:
                return src if src.class_idx is None else dataclasses.replace(src, class_idx=None)
            if src.class_idx is None or not 0 <= src.class_idx < model.c_dim:
                return dataclasses.replace(src, class_idx=0)
            return src

        def fits(layers: str) -> bool:
            try:
                return bool(table.parse_indices(layers))
            except ValueError:
                return False

        noise_res = {c.resolution for c in table.noise_layers}
        return self.replace(
            a=fit(self.a), b=fit(self.b),
            mix=self.mix[:table.num_ws],
            noise_scales=self.noise_scales[:len(table.noise_layers)],
            noise_off_res=tuple(r for r in self.noise_off_res if r in noise_res),
            cutoff=None if self.cutoff is None else min(self.cutoff, table.num_ws),
            edits=tuple(e for e in self.edits if fits(e.layers)),
            blend=self.blend[:len(table.layers)],
            translate=self.translate if table.has_transform else (0.0, 0.0),
            rotate=self.rotate if table.has_transform else 0.0,
        )

    # --- JSON -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["version"] = STATE_VERSION
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RenderState":
        d = dict(d)
        version = d.pop("version", STATE_VERSION)
        d.pop(EXTRAS_KEY, None)
        _check(version == STATE_VERSION, f"session version {version} is not supported")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        _check(not unknown, f"unknown session fields: {', '.join(unknown)}")
        for key in ("a", "b"):
            if key in d:
                _check(isinstance(d[key], dict), f"{key} must be an object like {{\"seed\": 0}}, got {_show(d[key])}")
                d[key] = _fields(Source, d[key], key)
        if "edits" in d:
            _check(isinstance(d["edits"], list), f"edits must be a list, got {_show(d['edits'])}")
            _check(all(isinstance(e, dict) for e in d["edits"]), "each edit must be an object")
            d["edits"] = tuple(_fields(Edit, e, "edit") for e in d["edits"])
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "RenderState":
        d = json.loads(text)
        _check(isinstance(d, dict), f"a session is a JSON object, got {_show(d)}")
        return cls.from_dict(d)

    def save(self, path: "str | os.PathLike[str]") -> None:
        with atomic_write(path, "session") as tmp:
            tmp.write_text(self.to_json())

    @classmethod
    def load(cls, path: "str | os.PathLike[str]") -> "RenderState":
        """A saved session; SessionError (one line naming the file) for anything but a valid one."""
        text = read_session_text(path)
        try:
            return cls.from_json(text)
        except RecursionError:
            raise SessionError(path, "not a valid session file (nested too deeply)") from None
        except (ValueError, TypeError) as e:   # JSONDecodeError is a ValueError
            raise SessionError(path, f"not a valid session file ({(str(e).splitlines() or [''])[0][:160]})") from None


def read_session_text(path: "str | os.PathLike[str]") -> str:
    """The text of a session file (RenderState.load, and the live panels' extras): a regular file of at most
    MAX_SESSION_BYTES in UTF-8, else SessionError naming it."""
    with open_regular(path, SessionError, "a session file") as f:
        try:
            data = f.read(MAX_SESSION_BYTES + 1)
        except OSError as e:
            raise SessionError(path, f"cannot read session ({e.strerror or e})") from None
    if len(data) > MAX_SESSION_BYTES:
        raise SessionError(path, f"larger than {MAX_SESSION_BYTES >> 20} MB: not a session file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SessionError(path, f"not a valid session file ({e})") from None
