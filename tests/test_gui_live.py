"""Playing the app live, in a real Dear PyGui window under Xvfb: OSC over real UDP on 127.0.0.1, MIDI learn
by right-clicking a slider, the bookmark strip and its walk video, the blend panel, sessions that keep it all."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pythonosc", reason="python-osc is not installed (the 'live' extra)")
mido = pytest.importorskip("mido", reason="mido is not installed (the 'live' extra)")
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from explorer.io.native import save_generator
from explorer.live.midi import MidiBinding
from explorer.live.session import LiveSession
from explorer.render.state import RenderState, Source
from tests.conftest import make_generator
from tests.helpers.gui_display import click, drag, drive, xdotool

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def other(models):
    """A second 64 px model: the same architecture as models.g64, other weights."""
    return str(save_generator(make_generator(5, img_resolution=64), Path(models.g64).with_name("other.safetensors")))


@pytest.fixture
def fresh(app, models):
    app.live.stop_osc()
    app.live.restore(LiveSession(RenderState()))
    app.set_state(RenderState(checkpoint=models.g64, device="cpu", a=Source(seed=1), b=Source(seed=2)))
    app.wait_for_render()
    app.clear_error()
    app.run_frames(2)
    return app


@pytest.fixture
def client(udp_client):
    return udp_client


def message(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def frames_until(app, done, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the app did not get there"
        app.frame()


def start_osc(app) -> tuple[str, int]:
    drive("live.osc_listen", "127.0.0.1:0")
    drive("live.osc", True)
    app.run_frames(1)
    assert app.live.osc is not None
    return app.live.osc.host, app.live.osc.port


def test_osc_messages_drive_the_frame_and_bad_ones_show_in_the_status_line(fresh, client):
    import dearpygui.dearpygui as dpg

    server = start_osc(fresh)
    assert server[0] == "127.0.0.1"
    before = fresh.current_image().astype(float)
    client.sendto(message("/explorer/psi", -0.5), server)
    frames_until(fresh, lambda: fresh.last_frame.state.psi == -0.5)
    assert fresh.state.psi == -0.5 and dpg.get_value("trunc.psi") == pytest.approx(-0.5)
    assert np.abs(fresh.current_image() - before).mean() > 2
    client.sendto(message("/explorer/psi", "loud"), server)
    client.sendto(message("/explorer/nowhere", 1.0), server)
    frames_until(fresh, lambda: fresh.live.osc.counters.bad_total == 2)
    fresh.run_frames(2)
    status = dpg.get_value("status.line")
    assert "OSC 1/3 applied, bad: 1 address, 1 type" in status
    assert fresh.state.psi == -0.5


def test_a_query_answers_with_what_the_window_shows(fresh, client):
    server = start_osc(fresh)
    drive("trunc.psi", 0.25)
    fresh.run_frames(2)
    client.sendto(message("/explorer/query", "/explorer/psi"), server)
    data, _ = client.recvfrom(65536)
    got = {m.message.address: list(m.message.params) for m in OscPacket(data).messages}
    assert got == {"/explorer/psi": [pytest.approx(0.25)]}


def test_a_flood_keeps_the_window_drawing_and_ends_on_the_newest_state(fresh, client):
    server = start_osc(fresh)
    frames0 = fresh.last_frame.request_id
    drawn = 0
    t0 = time.perf_counter()
    for k in range(1000):                       # 1,000 messages in about a second while the window draws
        client.sendto(message("/explorer/t", (k % 100) / 99), server)
        if k % 20 == 0:
            fresh.frame()
            drawn += 1
        while time.perf_counter() < t0 + (k + 1) / 1000:
            pass
    frames_until(fresh, lambda: fresh.live.osc.counters.received == 1000)
    fresh.wait_for_render()
    assert fresh.state.t == 1.0 and fresh.last_frame.state.t == 1.0
    assert fresh.last_frame.request_id > frames0 + 5     # it kept rendering new states throughout
    assert fresh.worker.dropped > 0                    # ... and dropped stale ones instead of queueing them


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_right_click_a_slider_then_move_a_knob_binds_it(fresh):
    import dearpygui.dearpygui as dpg

    (x, y), (w, h) = dpg.get_item_rect_min("latents.t"), dpg.get_item_rect_size("latents.t")
    assert 0 < y < 800, "the t slider must be on screen"
    xdotool("mousemove", str(x + w // 2), str(y + h // 2))
    fresh.run_frames(2)
    xdotool("click", "3")
    frames_until(fresh, lambda: fresh.live.midi_map.learning == "/explorer/t")
    fresh.run_frames(1)
    assert "/explorer/t" in dpg.get_value("live.learning")
    shared = fresh.live.shared
    fresh.live.midi_map.handle(mido.Message("control_change", channel=1, control=21, value=64), shared)
    fresh.live.midi_map.handle(mido.Message("control_change", channel=1, control=21, value=127), shared)
    frames_until(fresh, lambda: fresh.last_frame.state.t == 1.0)
    fresh.run_frames(1)
    assert fresh.live.midi_map.bindings == (MidiBinding("cc", 1, 21, "/explorer/t", 0.0, 1.0),)
    assert dpg.get_value("latents.t") == 1.0 and "CC 21" in dpg.get_value("live.b0")
    drive("live.b0.high", 0.5)                          # edit the span in the list
    fresh.live.midi_map.handle(mido.Message("control_change", channel=1, control=21, value=127), shared)
    frames_until(fresh, lambda: fresh.state.t == 0.5)
    click("live.b0.remove")
    fresh.run_frames(2)
    assert fresh.live.midi_map.bindings == () and dpg.does_item_exist("live.b0") is False


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_bookmarks_add_with_b_jump_reorder_and_become_a_video(fresh, tmp_path):
    import dearpygui.dearpygui as dpg

    xdotool("mousemove", "900", "400")                 # over the image: no text box has the keyboard
    fresh.run_frames(2)
    for seed in (1, 7, 9):
        fresh.set_state(fresh.state.replace(a=Source(seed=seed)))
        fresh.wait_for_render()
        xdotool("key", "b")
        frames_until(fresh, lambda: len(fresh.live.bookmarks) == [1, 7, 9].index(seed) + 1)
    fresh.run_frames(2)
    assert [b.state.a.seed for b in fresh.live.bookmarks.items] == [1, 7, 9]
    assert dpg.does_item_exist("bookmarks.b2")
    click("bookmarks.b0")                               # jump back to the first
    fresh.wait_for_render()
    assert fresh.state.a.seed == 1
    fresh.run_frames(2)
    fresh.reveal(fresh.bookmarks, "bookmarks.b0")      # its group, its header open, the strip scrolled to
    fresh.run_frames(4)
    (x2, y), (w, h) = dpg.get_item_rect_min("bookmarks.b2"), dpg.get_item_rect_size("bookmarks.b2")
    x0 = dpg.get_item_rect_min("bookmarks.b0")[0]
    assert 0 < y < 800 - h, "the bookmark strip must be on screen"
    drag(fresh, x2 + w // 2, x0 + w // 2, y + h // 2, steps=8)        # a real mouse drag: third onto first
    fresh.run_frames(2)
    assert [b.state.a.seed for b in fresh.live.bookmarks.items] == [9, 1, 7]
    out = tmp_path / "walk.gif"
    drive("bookmarks.frames", 3)
    drive("bookmarks.fps", 10)
    drive("bookmarks.path", str(out))
    click("bookmarks.video")
    fresh.wait_tasks()
    fresh.run_frames(2)
    assert out.exists() and "wrote" in dpg.get_value("bookmarks.note") and "7 frames" in dpg.get_value("bookmarks.note")


def test_a_session_keeps_bookmarks_and_midi_bindings(fresh, tmp_path):
    fresh.bookmarks.add()
    fresh.live.midi_map.bind(MidiBinding("cc", 0, 7, "/explorer/t", 0.0, 1.0))
    path = tmp_path / "live.json"
    fresh.capture.save_session(path)
    saved = LiveSession.load(path)
    assert len(saved.bookmarks) == 1 and saved.midi == fresh.live.midi_map.bindings
    assert RenderState.load(path) == fresh.state
    fresh.live.restore(LiveSession(RenderState()))
    fresh.set_state(fresh.state.replace(psi=0.3))
    fresh.capture.load_session(path)
    fresh.run_frames(1)
    assert len(fresh.live.bookmarks) == 1 and fresh.live.midi_map.bindings == saved.midi
    assert fresh.state == saved.state


def test_the_blend_panel_blends_a_second_model_and_refuses_another_architecture(fresh, models, other):
    import dearpygui.dearpygui as dpg

    before = fresh.current_image().astype(float)
    drive("blend.path", models.g32)                     # 32 px: not the same architecture
    click("blend.load")
    fresh.wait_tasks()
    fresh.run_frames(2)
    assert "cannot be blended" in fresh.last_error and fresh.state.blend_with is None
    drive("blend.path", other)
    click("blend.load")
    fresh.wait_tasks()
    frames_until(fresh, lambda: fresh.state.blend_with == other)
    fresh.wait_for_render()
    assert np.abs(fresh.current_image() - before).mean() == 0     # all weights 0: still the first model
    drive("blend.level.fine", 1.0)
    result = fresh.wait_for_render()
    assert result.error is None and result.stats.first_layer == "b64.conv0"   # reran from the first fine layer
    assert np.abs(fresh.current_image() - before).mean() > 1
    assert "blending with" in dpg.get_value("blend.with")
    click("blend.off")
    fresh.wait_for_render()
    assert np.abs(fresh.current_image() - before).mean() == 0
