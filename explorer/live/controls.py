"""The control address space: every RenderState field as an address that OSC and MIDI can set and read.

    /explorer/psi 0.7                 a scalar field (t, psi, cutoff, noise_mode, noise_seed, ...)
    /explorer/a/seed 42               a field of a nested value (sources a and b)
    /explorer/mix/3 0.5               one entry of a per-index list (mix: per w index, noise_scales: per layer)
    /explorer/mix 0 0 0.5 ...         the whole list at once
    /explorer/noise_off_res/16 1      membership of a set (1: noise at 16 px off, 0: on)
    /explorer/edits/0/alpha 1.5       a field of an existing edit
    /explorer/level/fine 1.0          group: the mix weight of every w index of a level
    /explorer/blend/4 0.5             one synthesis layer's blend weight (0 = checkpoint, 1 = blend_with)
    /explorer/blend_level/fine 1.0    group: the blend weight of every layer of a level
    /explorer/direction/2 1.5 [layers [directions]]   group: the edit of direction 2 (0 removes it)

Addresses derive from the RenderState dataclass (its field names and type hints): a field added to it is
controllable without a change here. The model's layer table bounds the per-index lists and names the
levels and noise resolutions. Values are checked for type here and for range by RenderState itself, so
a refused value raises ControlError and the state is left exactly as it was.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any, Callable, Optional, Sequence

from ..nn.layer_table import LEVELS, LayerTable
from ..render.state import RANGES, SEED_RANGE, Edit, RenderState

PREFIX = "/explorer"
ERROR_KINDS = ("address", "type", "range")   # unknown address, wrong type or count of values, value refused


class ControlError(ValueError):
    """A control message that cannot apply; `kind` is one of ERROR_KINDS."""

    def __init__(self, kind: str, message: str):
        assert kind in ERROR_KINDS
        super().__init__(message)
        self.kind = kind


@dataclasses.dataclass(frozen=True)
class PerIndex:
    """A tuple field with one entry per model element, read and written through RenderState's own rules
    (which say what a missing entry means)."""

    count: Callable[[LayerTable], int]
    get: Callable[[RenderState, int], float]
    put: Callable[[RenderState, Sequence[int], float, int], RenderState]


PER_INDEX = {
    "mix": PerIndex(lambda table: table.num_ws, RenderState.mix_weight,
                    lambda s, idx, v, n: s.with_mix(list(idx), v, n)),
    "noise_scales": PerIndex(lambda table: len(table.noise_layers), RenderState.noise_scale,
                             lambda s, idx, v, n: _with_noise_scales(s, idx, v, n)),
    "blend": PerIndex(lambda table: len(table.layers), RenderState.blend_weight,
                      lambda s, idx, v, n: s.with_blend(list(idx), v, n)),
}
SET_MEMBERS = {   # tuple fields that hold a set of the model's values: address one member, value 1 = in
    "noise_off_res": lambda table: sorted({c.resolution for c in table.noise_layers}),
}
GROUPS = ("level", "blend_level", "direction")


def _with_noise_scales(state: RenderState, indices: Sequence[int], value: float, n: int) -> RenderState:
    scales = [state.noise_scale(k) for k in range(n)]
    for i in indices:
        scales[i] = float(value)
    return state.replace(noise_scales=tuple(scales))


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


# --- values ------------------------------------------------------------------------------------------

def _scalar_type(hint: Any) -> tuple[type, bool]:
    """(float | int | str | bool, optional?) of a field's type hint."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is typing.Union and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        return inner[0], True
    return hint, False


def coerce(value: Any, hint: Any, name: str) -> Any:
    """An OSC/MIDI argument as the field's type, or ControlError('type')."""
    kind, optional = _scalar_type(hint)
    if optional and (value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "nil"))):
        return None
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ControlError("type", f"{name} takes a number, got {_describe(value)}")
        if not math.isfinite(value):
            raise ControlError("range", f"{name} must be finite, got {value}")
        return float(value)
    if kind is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)   # Max and TouchDesigner send whole numbers as floats
        if isinstance(value, bool) or not isinstance(value, int):
            raise ControlError("type", f"{name} takes a whole number, got {_describe(value)}")
        return value
    if kind is bool:
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        raise ControlError("type", f"{name} takes 0 or 1, got {_describe(value)}")
    if kind is str:
        if not isinstance(value, str):
            raise ControlError("type", f"{name} takes a string, got {_describe(value)}")
        return value
    raise ControlError("type", f"{name} cannot be set by a control")


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"[:80]


def _tuple_element(hint: Any) -> Optional[Any]:
    """The element type of a tuple hint, None for other hints."""
    if typing.get_origin(hint) is tuple:
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return args[0] if args else None
    return None


def _is_fixed_tuple(hint: Any) -> bool:
    return typing.get_origin(hint) is tuple and Ellipsis not in typing.get_args(hint)


def _index(part: str, size: int, address: str) -> int:
    if not part.isdigit() or int(part) >= size:
        raise ControlError("address", f"{address}: no such index (0-{size - 1})" if size else f"{address}: empty")
    return int(part)


# --- the address space -------------------------------------------------------------------------------

def split(address: str) -> list[str]:
    """'/explorer/mix/3' -> ['mix', '3']; ControlError('address') outside the /explorer space."""
    parts = address.strip().rstrip("/").split("/")
    if len(parts) < 3 or parts[0] != "" or "/" + parts[1] != PREFIX or not all(parts[2:]):
        raise ControlError("address", f"unknown address {address!r} (addresses start with {PREFIX}/)")
    return parts[2:]


def apply(state: RenderState, table: LayerTable, address: str, args: Sequence[Any]) -> RenderState:
    """The state after one control message; raises ControlError and changes nothing if it cannot apply."""
    path = split(address)
    try:
        return _apply(state, table, address, path, list(args))
    except ControlError:
        raise
    except ValueError as e:   # RenderState (or a nested value) refused the result
        raise ControlError("range", f"{address}: {e}") from None


def _one(args: list, address: str) -> Any:
    if len(args) != 1:
        raise ControlError("type", f"{address} takes one value, got {len(args)}")
    return args[0]


def _apply(state: RenderState, table: LayerTable, address: str, path: list[str], args: list) -> RenderState:
    head, rest = path[0], path[1:]
    if head == "level":
        if len(rest) != 1 or rest[0] not in LEVELS:
            raise ControlError("address", f"{address}: levels are {', '.join(LEVELS)}")
        value = coerce(_one(args, address), float, address)
        return state.with_mix(table.level_indices(rest[0]), value, table.num_ws)
    if head == "blend_level":
        if len(rest) != 1 or rest[0] not in LEVELS:
            raise ControlError("address", f"{address}: levels are {', '.join(LEVELS)}")
        value = coerce(_one(args, address), float, address)
        layers = table.layers
        return state.with_blend([i for i, x in enumerate(layers) if x.level == rest[0]], value, len(layers))
    if head == "direction":
        return _apply_direction(state, address, rest, args)
    hints = _hints(type(state))
    if head not in hints:
        raise ControlError("address", f"unknown address {address!r}")
    hint, current = hints[head], getattr(state, head)
    if head in PER_INDEX:
        spec = PER_INDEX[head]
        n = spec.count(table)
        if not rest:
            if len(args) != n:
                raise ControlError("type", f"{address} takes {n} values (one per index), got {len(args)}")
            values = [coerce(v, float, address) for v in args]
            for i, v in enumerate(values):
                state = spec.put(state, [i], v, n)
            return state
        if len(rest) != 1:
            raise ControlError("address", f"unknown address {address!r}")
        return spec.put(state, [_index(rest[0], n, address)], coerce(_one(args, address), float, address), n)
    if head in SET_MEMBERS:
        members = SET_MEMBERS[head](table)
        if len(rest) != 1 or not rest[0].isdigit() or int(rest[0]) not in members:
            raise ControlError("address", f"{address}: members are {', '.join(map(str, members))}")
        on = coerce(_one(args, address), bool, address)
        member = int(rest[0])
        kept = tuple(m for m in current if m != member)
        return state.replace(**{head: tuple(sorted(kept + (member,))) if on else kept})
    element = _tuple_element(hint)
    if element is not None and dataclasses.is_dataclass(element):   # edits: /edits/<i>/<field>
        if len(rest) != 2:
            raise ControlError("address", f"unknown address {address!r} (use {PREFIX}/{head}/<i>/<field>)")
        i = _index(rest[0], len(current), address)
        items = list(current)
        items[i] = _apply_field(items[i], rest[1], args, address)
        return state.replace(**{head: tuple(items)})
    if element is not None:                                          # a fixed-size tuple: whole or one entry
        if not rest:
            if len(args) != len(current):
                raise ControlError("type", f"{address} takes {len(current)} values, got {len(args)}")
            return state.replace(**{head: tuple(coerce(v, element, address) for v in args)})
        if len(rest) != 1 or not _is_fixed_tuple(hint):
            raise ControlError("address", f"unknown address {address!r}")
        items = list(current)
        items[_index(rest[0], len(items), address)] = coerce(_one(args, address), element, address)
        return state.replace(**{head: tuple(items)})
    if dataclasses.is_dataclass(hint):                               # a, b: /a/<field>
        if len(rest) != 1:
            raise ControlError("address", f"unknown address {address!r} (use {PREFIX}/{head}/<field>)")
        return state.replace(**{head: _apply_field(current, rest[0], args, address)})
    if rest:
        raise ControlError("address", f"unknown address {address!r}")
    return state.replace(**{head: coerce(_one(args, address), hint, address)})


def _apply_field(value: Any, name: str, args: list, address: str) -> Any:
    hints = _hints(type(value))
    if name not in hints:
        raise ControlError("address", f"unknown address {address!r} (fields: {', '.join(hints)})")
    return dataclasses.replace(value, **{name: coerce(_one(args, address), hints[name], address)})


def _apply_direction(state: RenderState, address: str, rest: list[str], args: list) -> RenderState:
    """/direction/<k> alpha [layers [directions]]: set (or with alpha 0 remove) that direction's edit,
    as the Directions panel's slider does; layers and directions default to Edit's own defaults."""
    if len(rest) != 1 or not rest[0].isdigit():
        raise ControlError("address", f"unknown address {address!r} (use {PREFIX}/direction/<k>)")
    if not 1 <= len(args) <= 3:
        raise ControlError("type", f"{address} takes alpha [layers [directions]], got {len(args)} values")
    hints = _hints(Edit)
    alpha = coerce(args[0], hints["alpha"], address)
    fields = {"index": int(rest[0]), "alpha": alpha}
    for name, value in zip(("layers", "directions"), args[1:]):
        fields[name] = coerce(value, hints[name], address)
    new = Edit(**fields)
    same = (new.directions, new.layers, new.index)
    edits = list(state.edits)
    at = next((i for i, e in enumerate(edits) if (e.directions, e.layers, e.index) == same), None)
    if at is None:
        edits += [new] if alpha != 0 else []
    else:
        edits[at:at + 1] = [new] if alpha != 0 else []
    return state.replace(edits=tuple(edits))


# --- reading -----------------------------------------------------------------------------------------

def snapshot(state: RenderState, table: LayerTable) -> dict[str, tuple]:
    """Every settable address (one entry per element, no groups) with its current value(s), in field order:
    what a query answers and what 'send on change' compares."""
    out: dict[str, tuple] = {}
    for name, hint in _hints(type(state)).items():
        current = getattr(state, name)
        address = f"{PREFIX}/{name}"
        if name in PER_INDEX:
            spec = PER_INDEX[name]
            for i in range(spec.count(table)):
                out[f"{address}/{i}"] = (spec.get(state, i),)
        elif name in SET_MEMBERS:
            for m in SET_MEMBERS[name](table):
                out[f"{address}/{m}"] = (int(m in current),)
        elif _tuple_element(hint) is not None and dataclasses.is_dataclass(_tuple_element(hint)):
            for i, item in enumerate(current):
                for f in dataclasses.fields(item):
                    out[f"{address}/{i}/{f.name}"] = (getattr(item, f.name),)
        elif _tuple_element(hint) is not None:
            out[address] = tuple(current)
        elif dataclasses.is_dataclass(hint):
            for f in dataclasses.fields(current):
                out[f"{address}/{f.name}"] = (getattr(current, f.name),)
        else:
            out[address] = (current,)
    return out


def changed(before: dict[str, tuple], after: dict[str, tuple]) -> dict[str, tuple]:
    """Addresses whose value differs (or is new) in `after`."""
    return {k: v for k, v in after.items() if before.get(k) != v}


# --- numeric spans (MIDI knobs, sliders) ---------------------------------------------------------------

def value_range(state: RenderState, table: LayerTable, address: str) -> tuple[float, float, type]:
    """(low, high, float | int | bool) a knob should span for a numeric address; ControlError otherwise.

    Ranges come from RenderState's RANGES; seeds span the first 128 seeds (a knob has 128 steps), a cutoff
    the model's w indices.
    """
    path = split(address)
    apply(state, table, address, [_probe(state, table, path)])   # raises for an address that does not exist
    head, last = path[0], path[-1]
    if head == "level":
        return (*RANGES["mix"], float)
    if head == "blend_level":
        return (*RANGES["blend"], float)
    if head == "direction" or last == "alpha":
        return (*RANGES["alpha"], float)
    if head in SET_MEMBERS:
        return (0, 1, bool)
    if head in RANGES:
        return (*RANGES[head], float)
    if head == "cutoff":
        return (0, table.num_ws, int)
    kind = _leaf_type(type(state), path)
    if kind is int:
        return (SEED_RANGE[0], 127, int)
    raise ControlError("type", f"{address} is not a numeric control")


def _leaf_type(cls: type, path: list[str]) -> Any:
    hint = _hints(cls).get(path[0])
    element = _tuple_element(hint)
    if element is not None and dataclasses.is_dataclass(element) and len(path) == 3:
        hint = _hints(element).get(path[2])
    elif dataclasses.is_dataclass(hint) and len(path) == 2:
        hint = _hints(hint).get(path[1])
    return _scalar_type(hint)[0]


def _probe(state: RenderState, table: LayerTable, path: list[str]) -> Any:
    """A value the address accepts (its current one where it has one), to check that the address exists."""
    address = PREFIX + "/" + "/".join(path)
    if path[0] in GROUPS:
        return 0.0
    current = snapshot(state, table).get(address)
    if current is not None and len(current) == 1:
        return current[0]
    kind = _leaf_type(type(state), path)
    return 0.0 if kind is float else 0
