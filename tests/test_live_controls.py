"""The control address space: every RenderState field is an address; bad values change nothing."""
from __future__ import annotations

import dataclasses

import pytest

from explorer.live.controls import ControlError, apply, changed, snapshot, value_range
from explorer.render.state import Edit, RenderState, Source
from tests.conftest import make_generator


@pytest.fixture(scope="module")
def table():
    return make_generator().layer_table     # 32 px: 8 w indices, 7 noise layers at 4-32 px


def test_every_field_of_the_state_has_an_address(table):
    state = RenderState(edits=(Edit(index=2, alpha=1.0),))
    addresses = snapshot(state, table)
    for f in dataclasses.fields(RenderState):
        assert any(a == f"/explorer/{f.name}" or a.startswith(f"/explorer/{f.name}/") for a in addresses), f.name
    assert addresses["/explorer/mix/7"] == (0.0,)
    assert addresses["/explorer/noise_scales/6"] == (1.0,)
    assert addresses["/explorer/noise_off_res/16"] == (0,)
    assert addresses["/explorer/edits/0/alpha"] == (1.0,)
    assert addresses["/explorer/a/seed"] == (0,)


def test_a_field_added_to_the_state_is_controllable_without_changes(table):
    @dataclasses.dataclass(frozen=True)
    class WithTransform(RenderState):          # what StyleGAN3's translate / rotate will add
        rotate: float = 0.0
        translate: tuple[float, float] = (0.0, 0.0)

    state = WithTransform()
    state = apply(state, table, "/explorer/rotate", [30.0])
    state = apply(state, table, "/explorer/translate/1", [0.25])
    assert (state.rotate, state.translate) == (30.0, (0.0, 0.25))
    assert apply(state, table, "/explorer/translate", [1, 2]).translate == (1.0, 2.0)
    assert snapshot(state, table)["/explorer/translate"] == (0.0, 0.25)


def test_each_kind_of_address_sets_its_field(table):
    s = RenderState()
    s = apply(s, table, "/explorer/psi", [0.7])
    s = apply(s, table, "/explorer/t", [1])                  # an int where a float is expected is fine
    s = apply(s, table, "/explorer/mix/3", [0.5])
    s = apply(s, table, "/explorer/level/fine", [1.0])
    s = apply(s, table, "/explorer/a/seed", [42.0])          # a whole float where an int is expected is fine
    s = apply(s, table, "/explorer/b/class_idx", ["none"])
    s = apply(s, table, "/explorer/noise_scales/2", [0.0])
    s = apply(s, table, "/explorer/noise_off_res/16", [1])
    s = apply(s, table, "/explorer/cutoff", [4])
    s = apply(s, table, "/explorer/noise_mode", ["random"])
    s = apply(s, table, "/explorer/direction/3", [1.5])
    assert s.psi == 0.7 and s.t == 1.0 and s.a == Source(seed=42) and s.cutoff == 4 and s.noise_mode == "random"
    fine = table.level_indices("fine")
    assert [s.mix_weight(i) for i in range(8)] == [1.0 if i in fine else (0.5 if i == 3 else 0.0) for i in range(8)]
    assert s.noise_scales[2] == 0.0 and s.noise_off_res == (16,)
    assert s.edits == (Edit(directions="sefa", index=3, alpha=1.5, layers="all"),)
    s = apply(s, table, "/explorer/edits/0/alpha", [-2.0])
    assert s.edits[0].alpha == -2.0
    s = apply(s, table, "/explorer/direction/3", [0.0])       # alpha 0 removes the edit, as the slider does
    assert s.edits == ()
    s = apply(s, table, "/explorer/noise_off_res/16", [0])
    assert s.noise_off_res == ()
    s = apply(s, table, "/explorer/mix", [0.25] * 8)
    assert s.mix == (0.25,) * 8


@pytest.mark.parametrize("address, args, kind", [
    ("/explorer/nonsense", [1.0], "address"),
    ("/other/psi", [1.0], "address"),
    ("/explorer/mix/8", [0.5], "address"),                 # the model has 8 w indices: 0-7
    ("/explorer/level/ultra", [0.5], "address"),
    ("/explorer/noise_off_res/13", [1], "address"),
    ("/explorer/edits/0/alpha", [1.0], "address"),          # no edit 0 yet
    ("/explorer/a/colour", [1], "address"),
    ("/explorer/psi", ["high"], "type"),
    ("/explorer/psi", [], "type"),
    ("/explorer/psi", [0.5, 0.6], "type"),
    ("/explorer/a/seed", [2.5], "type"),
    ("/explorer/mix", [0.5] * 7, "type"),
    ("/explorer/noise_mode", [3], "type"),
    ("/explorer/psi", [5.0], "range"),
    ("/explorer/psi", [float("nan")], "range"),
    ("/explorer/mix/2", [1.5], "range"),
    ("/explorer/t", [-0.1], "range"),
    ("/explorer/a/seed", [-1], "range"),
    ("/explorer/noise_mode", ["loud"], "range"),
    ("/explorer/direction/0", [9.0], "range"),
    ("/explorer/mix", [0.5] * 7 + [2.0], "range"),
])
def test_bad_messages_say_what_is_wrong_and_change_nothing(table, address, args, kind):
    state = RenderState(psi=0.9)
    with pytest.raises(ControlError) as e:
        apply(state, table, address, args)
    assert e.value.kind == kind, str(e.value)
    assert state == RenderState(psi=0.9)


def test_changed_lists_only_what_differs(table):
    a = RenderState()
    b = a.replace(psi=0.5).with_mix([1], 1.0, 8)
    assert changed(snapshot(a, table), snapshot(b, table)) == {"/explorer/psi": (0.5,), "/explorer/mix/1": (1.0,)}


def test_knob_ranges_come_from_the_state(table):
    s = RenderState()
    assert value_range(s, table, "/explorer/psi") == (-1.0, 2.0, float)
    assert value_range(s, table, "/explorer/mix/2") == (0.0, 1.0, float)
    assert value_range(s, table, "/explorer/level/coarse") == (0.0, 1.0, float)
    assert value_range(s, table, "/explorer/noise_scales/0") == (0.0, 2.0, float)
    assert value_range(s, table, "/explorer/noise_off_res/8") == (0, 1, bool)
    assert value_range(s, table, "/explorer/direction/1") == (-5.0, 5.0, float)
    assert value_range(s, table, "/explorer/cutoff") == (0, 8, int)
    assert value_range(s, table, "/explorer/a/seed") == (0, 127, int)
    with pytest.raises(ControlError):
        value_range(s, table, "/explorer/noise_mode")
    with pytest.raises(ControlError):
        value_range(s, table, "/explorer/mix/9")
