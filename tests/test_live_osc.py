"""OSC over real UDP sockets on 127.0.0.1: set, query, sync out, and bad packets that change nothing."""
from __future__ import annotations

import json
import socket
import time

import pytest

pytest.importorskip("pythonosc", reason="python-osc is not installed (the 'live' extra)")
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from explorer.errors import ExplorerError
from explorer.live.osc import OscServer, parse_endpoint
from explorer.live.shared import SharedState
from explorer.render.state import RenderState
from tests.conftest import make_generator


def message(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def bundle(*messages: bytes) -> bytes:
    b = OscBundleBuilder(IMMEDIATELY)
    for m in messages:
        b.add_content(OscPacket(m).messages[0].message)
    return b.build().dgram


@pytest.fixture
def shared():
    return SharedState(RenderState(), make_generator().layer_table)


@pytest.fixture
def server(shared):
    with OscServer(shared, port=0) as s:
        yield s


@pytest.fixture
def client(udp_client):
    return udp_client


def send(client, server, *packets: bytes) -> None:
    """Send packets and wait until the server has handled them all."""
    before = server.counters.received
    for p in packets:
        client.sendto(p, (server.host, server.port))
    deadline = time.monotonic() + 5
    while server.counters.received < before + len(packets):
        assert time.monotonic() < deadline, "the server did not receive the packets"
        time.sleep(0.002)


def replies(sock, until: str, timeout: float = 5) -> dict[str, list]:
    """Messages received (address -> args) until one with address `until` arrives."""
    out: dict[str, list] = {}
    sock.settimeout(timeout)
    while until not in out:
        data, _ = sock.recvfrom(65536)
        for m in OscPacket(data).messages:
            out[m.message.address] = list(m.message.params)
    return out


def test_listens_on_loopback_by_default(server):
    assert server.host == "127.0.0.1"


def test_messages_set_the_shared_state(server, client, shared):
    send(client, server, message("/explorer/psi", 0.5), message("/explorer/mix/5", 1.0),
         message("/explorer/level/coarse", 0.25), message("/explorer/a/seed", 77), message("/explorer/b/seed", 2 ** 32 - 1),
         message("/explorer/noise_off_res/8", 1), message("/explorer/noise_mode", "none"),
         message("/explorer/direction/2", -1.5, "middle"), message("/explorer/cutoff", 3))
    s = shared.state
    assert s.psi == 0.5 and s.mix_weight(5) == 1.0 and s.a.seed == 77 and s.b.seed == 2 ** 32 - 1
    assert [s.mix_weight(i) for i in range(5)] == [0.25] * 4 + [0.0]    # 32 px: coarse = w 0-3 (4-8 px)
    assert s.noise_off_res == (8,) and s.noise_mode == "none" and s.cutoff == 3
    assert s.edits[0].index == 2 and s.edits[0].alpha == -1.5 and s.edits[0].layers == "middle"
    assert server.counters.applied == 9 and server.counters.bad_total == 0


def test_bad_packets_are_counted_by_kind_and_change_nothing(server, client, shared):
    shared.set(RenderState(psi=0.8))
    send(client, server, message("/explorer/nope", 1.0), message("/explorer/psi", "loud"),
         message("/explorer/psi", 7.0), message("/explorer/mix/2", 0.5, 0.5), b"not osc at all",
         message("/explorer/mix/99", 0.5))
    assert shared.state == RenderState(psi=0.8)
    assert server.counters.bad == {"malformed": 1, "address": 2, "type": 2, "range": 1}
    assert "psi" in server.counters.summary() or "bad" in server.counters.summary()
    send(client, server, message("/explorer/psi", 0.3))               # and it keeps listening
    assert shared.state.psi == pytest.approx(0.3)


def test_a_bundle_applies_whole_or_not_at_all(server, client, shared):
    send(client, server, bundle(message("/explorer/psi", 0.5), message("/explorer/t", 3.0)))
    assert shared.state == RenderState() and server.counters.bad["range"] == 1
    send(client, server, bundle(message("/explorer/psi", 0.5), message("/explorer/t", 0.25)))
    assert (shared.state.psi, shared.state.t) == (0.5, 0.25)


def test_query_answers_with_every_current_value(server, client, shared):
    shared.set(RenderState(psi=0.5, noise_seed=9).with_mix([5], 1.0, 8))
    send(client, server, message("/explorer/query"))
    got = replies(client, "/explorer/mix/7")
    assert got["/explorer/psi"] == [0.5] and got["/explorer/noise_seed"] == [9]
    assert got["/explorer/mix/5"] == [1.0] and got["/explorer/mix/4"] == [0.0]
    assert got["/explorer/cutoff"] == ["none"] and got["/explorer/a/seed"] == [0]
    send(client, server, message("/explorer/query", "/explorer/noise_scales"))
    got = replies(client, "/explorer/noise_scales/6")
    assert set(got) == {f"/explorer/noise_scales/{i}" for i in range(7)}


def test_the_whole_state_travels_as_json(server, client, shared):
    target = RenderState(psi=0.25, t=0.5).with_mix([0, 1], 1.0, 8)
    send(client, server, message("/explorer/state", target.to_json()))
    assert shared.state == target
    send(client, server, message("/explorer/state"))
    assert RenderState.from_json(replies(client, "/explorer/state")["/explorer/state"][0]) == target
    send(client, server, message("/explorer/state", json.dumps({"psi": 9})))
    assert shared.state == target and server.counters.bad["range"] == 1


def test_changes_are_sent_out_when_asked(shared, client):
    with OscServer(shared, port=0, send_to=client.getsockname()) as server:
        shared.set(shared.state.replace(psi=0.75))
        first = replies(client, "/explorer/psi")          # the first send carries everything
        assert first["/explorer/psi"] == [0.75] and "/explorer/mix/0" in first
        shared.set(shared.state.with_mix([2], 0.5, 8))
        data, _ = client.recvfrom(65536)
        sent = {m.message.address: list(m.message.params) for m in OscPacket(data).messages}
        assert sent == {"/explorer/mix/2": [0.5]}         # then only what changed
        assert server.counters.sent >= 2


def test_two_programs_stay_in_sync_without_echoing_forever():
    table = make_generator().layer_table
    a, b = SharedState(RenderState(), table), SharedState(RenderState(), table)
    with OscServer(a, port=0) as osc_a, OscServer(b, port=0) as osc_b:
        osc_a.send_to, osc_b.send_to = ("127.0.0.1", osc_b.port), ("127.0.0.1", osc_a.port)
        a.set(a.state.replace(psi=0.5, t=0.25))
        assert b.wait_newer(0, 5)
        deadline = time.monotonic() + 5
        while b.state.psi != 0.5 or b.state.t != 0.25:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.3)
        settled = (osc_a.counters.received, osc_b.counters.received)
        time.sleep(0.3)
        assert (osc_a.counters.received, osc_b.counters.received) == settled   # no endless ping-pong
        assert a.state == b.state


def test_a_flood_keeps_only_the_newest_state(server, client, shared):
    packets = [message("/explorer/t", i / 999) for i in range(1000)]
    for i in range(0, 1000, 100):          # 1,000 messages in about a second, in bursts of 100
        send(client, server, *packets[i:i + 100])
        time.sleep(0.05)
    assert shared.state.t == pytest.approx(1.0)
    assert server.counters.applied == 1000


def test_endpoints_parse_and_a_taken_port_says_so(shared, server):
    assert parse_endpoint("127.0.0.1:9000") == ("127.0.0.1", 9000)
    assert parse_endpoint("9001") == ("127.0.0.1", 9001)
    with pytest.raises(ExplorerError, match="HOST:PORT"):
        parse_endpoint("localhost:abc")
    with pytest.raises(ExplorerError, match=f"cannot listen for OSC on 127.0.0.1:{server.port}"):
        OscServer(shared, port=server.port)
