"""MIDI learn and bindings: through a real virtual MIDI port where the backend offers one, and through mido's
message objects (the same code path after the port)."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import pytest

mido = pytest.importorskip("mido", reason="mido is not installed (the 'live' extra)")

from explorer.errors import ExplorerError
from explorer.live.controls import ControlError
from explorer.live.midi import MidiBinding, MidiInput, MidiMap
from explorer.live.shared import SharedState
from explorer.render.state import RenderState
from tests.conftest import make_generator

TABLE = make_generator().layer_table


def cc(control: int, value: int, channel: int = 0):
    return mido.Message("control_change", channel=channel, control=control, value=value)


@pytest.fixture
def shared():
    return SharedState(RenderState(), TABLE)


def test_learn_binds_the_control_that_moves_next(shared):
    m = MidiMap()
    m.learn("/explorer/psi", shared.state, TABLE)
    assert m.learning == "/explorer/psi"
    m.handle(cc(7, 64, channel=2), shared)
    assert m.learning is None and shared.state.psi == 1.0            # learning moves nothing
    assert m.bindings == (MidiBinding("cc", 2, 7, "/explorer/psi", -1.0, 2.0),)
    m.handle(cc(7, 0, channel=2), shared)
    assert shared.state.psi == -1.0
    m.handle(cc(7, 127, channel=2), shared)
    assert shared.state.psi == 2.0
    m.handle(cc(7, 0, channel=3), shared)                            # another channel: not bound
    assert shared.state.psi == 2.0 and m.counters.ignored == 1


def test_spans_types_and_kinds_of_control(shared):
    m = MidiMap((MidiBinding("cc", 0, 1, "/explorer/a/seed", 0, 127),
                 MidiBinding("note", 0, 36, "/explorer/noise_off_res/16", 0, 1),
                 MidiBinding("pitchwheel", 0, 0, "/explorer/level/fine", 0, 1),
                 MidiBinding("cc", 0, 2, "/explorer/mix/1", 0.25, 0.75)))
    m.handle(cc(1, 42), shared)
    m.handle(mido.Message("note_on", note=36, velocity=100), shared)
    m.handle(mido.Message("pitchwheel", pitch=8191), shared)
    m.handle(cc(2, 127), shared)
    s = shared.state
    assert s.a.seed == 42 and s.noise_off_res == (16,) and s.mix_weight(1) == 0.75
    assert all(s.mix_weight(i) == 1.0 for i in TABLE.level_indices("fine"))
    m.handle(mido.Message("note_off", note=36), shared)
    m.handle(cc(2, 0), shared)
    assert shared.state.noise_off_res == () and shared.state.mix_weight(1) == 0.25
    m.handle(mido.Message("clock"), shared)
    assert m.counters.ignored == 1 and m.counters.applied == 6


def test_a_control_drives_one_address_and_an_address_has_one_control(shared):
    m = MidiMap()
    m.bind(MidiBinding("cc", 0, 1, "/explorer/psi", -1, 2))
    m.bind(MidiBinding("cc", 0, 1, "/explorer/t", 0, 1))         # same knob, new target: replaces
    m.bind(MidiBinding("cc", 0, 5, "/explorer/t", 0, 1))         # same target, new knob: replaces
    assert [b.control for b in m.bindings] == [("cc", 0, 5)]
    m.set_span(0, 0.5, 1.0)
    m.handle(cc(5, 0), shared)
    assert shared.state.t == 0.5
    m.remove(0)
    assert m.bindings == ()


def test_a_refused_value_is_counted_and_changes_nothing(shared):
    m = MidiMap((MidiBinding("cc", 0, 1, "/explorer/edits/0/alpha", -5, 5),))   # no edit 0 exists
    m.handle(cc(1, 100), shared)
    assert shared.state == RenderState() and m.counters.bad == 1 and "edits/0" in m.counters.last_error


def test_learning_refuses_what_no_knob_can_drive(shared):
    with pytest.raises(ControlError):
        MidiMap().learn("/explorer/noise_mode", shared.state, TABLE)
    with pytest.raises(ValueError):
        MidiBinding("cc", 16, 1, "/explorer/psi", 0, 1)


# --- a real virtual port ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def midi_backend():
    """rtmidi with a backend that offers virtual ports: ALSA where the sequencer exists, else a JACK server
    with its dummy driver (no sound hardware needed), started for this module."""
    pytest.importorskip("rtmidi", reason="python-rtmidi is not installed (the 'live' extra)")
    if os.path.exists("/dev/snd/seq"):
        yield "mido.backends.rtmidi/LINUX_ALSA"
        return
    if shutil.which("jackd") is None:
        pytest.skip("no virtual MIDI ports: no ALSA sequencer (/dev/snd/seq) and no jackd (apt install jackd2)")
    name = f"explorer-test-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    proc = subprocess.Popen(["jackd", "-r", "-n", name, "-d", "dummy", "-r", "48000", "-p", "256"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    old = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
    try:
        backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True)
        deadline = time.monotonic() + 10
        while True:   # wait for the server to accept clients
            try:
                backend.get_input_names()
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.skip("jackd did not start (no virtual MIDI ports here)")
                time.sleep(0.1)
        yield "mido.backends.rtmidi/UNIX_JACK"
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        proc.terminate()
        proc.wait(timeout=10)


def test_a_controller_on_a_virtual_port_learns_and_drives_the_state(midi_backend, shared):
    m = MidiMap()
    backend = mido.Backend(midi_backend, load=True)
    with MidiInput(m, shared, name="explorer-live-test", virtual=True, backend_name=midi_backend):
        target = next(n for n in backend.get_output_names() if "explorer-live-test" in n)
        with backend.open_output(target) as controller:
            m.learn("/explorer/mix/4", shared.state, TABLE)
            # JACK makes the new connection live on a later process cycle: like a knob being turned, send
            # until it arrives.
            deadline = time.monotonic() + 20
            while m.learning is not None:
                assert time.monotonic() < deadline, "the learn message never arrived"
                controller.send(cc(20, 10))
                time.sleep(0.05)
            controller.send(cc(20, 127))
            while shared.state.mix_weight(4) != 1.0:
                assert time.monotonic() < deadline, "the bound control never moved the state"
                time.sleep(0.01)
    assert m.bindings[0].control == ("cc", 0, 20) and shared.state.mix_weight(4) == 1.0


def test_a_port_that_cannot_open_says_why(midi_backend, shared):
    with pytest.raises(ExplorerError, match="cannot open MIDI input 'no such port'"):
        MidiInput(MidiMap(), shared, name="no such port", virtual=False, backend_name=midi_backend)
