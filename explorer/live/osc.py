"""OSC in and out: other programs (TouchDesigner, Max, Ableton, a script) set and read the RenderState.

    UDP packet --parse--> messages --controls.apply, all of a packet or none--> SharedState.update
    /explorer/query [prefix]   --> the sender gets every address (under prefix) with its value, in one bundle
    /explorer/state            --> the sender gets the whole state as JSON; with a JSON argument: set it
    SharedState change --diff with what was last sent--> the changed addresses, to --osc-send host:port

A packet (one message, or a bundle of several) applies as a whole or not at all. Bad packets are counted by
kind (not OSC, unknown address, wrong type, value out of range) with the last error kept for the status
line; none of them stops the listener. It binds to 127.0.0.1 unless given another host.
"""
from __future__ import annotations

import dataclasses
import socket
import sys
import threading
import time
from typing import Any, Optional

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError

from ..errors import ExplorerError
from ..render.state import RenderState
from .controls import ERROR_KINDS, PREFIX, ControlError, apply, changed, snapshot
from .shared import SharedState

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9000
QUERY = f"{PREFIX}/query"
STATE = f"{PREFIX}/state"
MALFORMED = "malformed"           # a packet that is not OSC at all
MAX_PACKET = 65536
RECEIVE_BUFFER = 1 << 22          # bytes the kernel holds for us: a burst of thousands of messages is not dropped
SWITCH_INTERVAL = 0.0005          # s: how long a thread woken by a packet may wait for the interpreter lock
MAX_BUNDLE_BYTES = 8192           # replies are split into bundles of about this size (safe for any UDP path)


def parse_endpoint(spec: str, default_host: str = DEFAULT_HOST) -> tuple[str, int]:
    """'127.0.0.1:9000', ':9000' or '9000' -> (host, port)."""
    host, _, port = str(spec).strip().rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ExplorerError(f"bad OSC address {spec!r}: use HOST:PORT, e.g. 127.0.0.1:9000") from None
    if not 0 <= number <= 65535:
        raise ExplorerError(f"bad OSC port {number}: use 0-65535")
    return (host or default_host), number


@dataclasses.dataclass
class OscCounters:
    received: int = 0                         # packets
    applied: int = 0                          # packets that changed or confirmed the state
    queries: int = 0
    sent: int = 0                             # packets sent out (replies and changes)
    bad: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys((MALFORMED,) + ERROR_KINDS, 0))
    last_error: Optional[str] = None
    last_applied_at: float = 0.0              # perf_counter() when the newest applied packet arrived
    last_applied_version: int = 0             # the SharedState version it made

    @property
    def bad_total(self) -> int:
        return sum(self.bad.values())

    def summary(self) -> str:
        """One line for a status bar."""
        bad = ", ".join(f"{n} {k}" for k, n in self.bad.items() if n)
        return f"OSC {self.applied}/{self.received} applied" + (f", bad: {bad}" if bad else "")


def _osc_value(v: Any) -> Any:
    """A value as OSC carries it: None as the string 'none' (every client reads strings), bools as 0/1."""
    if v is None:
        return "none"
    if isinstance(v, bool):
        return int(v)
    return v


def build_message(address: str, values: tuple) -> Any:
    builder = OscMessageBuilder(address)
    for v in values:
        builder.add_arg(_osc_value(v))
    return builder.build()


def build_bundles(entries: dict[str, tuple]) -> list[bytes]:
    """Messages for `entries`, packed into as few bundles of at most ~MAX_BUNDLE_BYTES as they fit."""
    out: list[bytes] = []
    builder, size = OscBundleBuilder(IMMEDIATELY), 0
    for address, values in entries.items():
        msg = build_message(address, values)
        if size and size + msg.size > MAX_BUNDLE_BYTES:
            out.append(builder.build().dgram)
            builder, size = OscBundleBuilder(IMMEDIATELY), 0
        builder.add_content(msg)
        size += msg.size + 4
    if size:
        out.append(builder.build().dgram)
    return out


class OscServer:
    """Listens for OSC on a UDP port (a thread of its own) and writes what arrives into a SharedState."""

    def __init__(
        self,
        shared: SharedState,                      # The state it reads and writes.
        host: str = DEFAULT_HOST,                 # Interface to listen on (loopback unless asked otherwise).
        port: int = DEFAULT_PORT,                 # UDP port; 0 picks a free one (see .port).
        send_to: Optional[tuple[str, int]] = None,  # Send each change of the state here.
    ):
        self.shared = shared
        self.counters = OscCounters()
        self.send_to = send_to
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        try:
            self._sock.bind((host, port))
        except OSError as e:
            self._sock.close()
            raise ExplorerError(f"cannot listen for OSC on {host}:{port} ({e.strerror or e})") from None
        self._sock.settimeout(0.2)
        self.host, self.port = self._sock.getsockname()[:2]
        # Each packet wakes this thread from recvfrom; while the UI and the renderer run Python code it then
        # waits up to the interpreter's switch interval (5 ms by default) for the lock: at most ~200 packets/s.
        # A shorter interval keeps up with a 1,000 messages/s flood; the cost is a little more switching.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self._sent_lock = threading.Lock()
        self._sent: Optional[tuple[int, dict[str, tuple]]] = None   # (version, snapshot) last sent out
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"osc {self.host}:{self.port}", daemon=True)
        self.shared.listeners.append(self._on_change)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self._on_change in self.shared.listeners:
            self.shared.listeners.remove(self._on_change)
        self._sock.close()

    def __enter__(self) -> "OscServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- in ----------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, sender = self._sock.recvfrom(MAX_PACKET)
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            self.handle(data, sender)

    def handle(self, data: bytes, sender: tuple[str, int]) -> None:
        """One packet: queries answered, everything else applied as a whole (or counted as bad)."""
        arrived = time.perf_counter()
        self.counters.received += 1
        try:
            messages = [(m.message.address.rstrip("/"), list(m.message.params)) for m in OscPacket(data).messages]
        except (ParseError, ValueError, IndexError, TypeError) as e:
            self._bad(MALFORMED, f"not an OSC packet ({str(e)[:80]})")
            return
        sets = []
        for address, params in messages:
            if address == QUERY:
                self._answer_query(params, sender)
            elif address == STATE and not params:
                self._reply(sender, [build_message(STATE, (self.shared.state.to_json(),)).dgram])
                self.counters.queries += 1
            else:
                sets.append((address, params))
        if sets:
            self._apply(sets, arrived)

    def _apply(self, messages: list[tuple[str, list]], arrived: float) -> None:
        table = self.shared.table

        def change(state: RenderState) -> RenderState:
            for address, params in messages:
                state = self._apply_one(state, table, address, params)
            return state

        try:
            self.shared.update(change)
        except ControlError as e:
            self._bad(e.kind, str(e))
            return
        self.counters.applied += 1
        self.counters.last_applied_at = arrived
        self.counters.last_applied_version = self.shared.version

    @staticmethod
    def _apply_one(state: RenderState, table: Any, address: str, args: list) -> RenderState:
        if address == STATE:
            if len(args) != 1 or not isinstance(args[0], str):
                raise ControlError("type", f"{STATE} takes the state as one JSON string")
            try:
                return RenderState.from_json(args[0])
            except (ValueError, TypeError, RecursionError) as e:   # a packet may nest its JSON without end
                raise ControlError("range", f"{STATE}: not a valid state ({(str(e).splitlines() or [''])[0][:120]})") from None
        if table is None:
            raise ControlError("address", f"{address}: no model loaded yet")
        return apply(state, table, address, args)

    def _bad(self, kind: str, message: str) -> None:
        self.counters.bad[kind] += 1
        self.counters.last_error = message

    # --- out ---------------------------------------------------------------------------------------------
    def _answer_query(self, args: list, sender: tuple[str, int]) -> None:
        """/explorer/query [prefix]: every address starting with prefix, with its value, to the sender."""
        self.counters.queries += 1
        prefix = args[0] if args and isinstance(args[0], str) else PREFIX
        state, table = self.shared.state, self.shared.table
        if table is None:
            self._bad("address", f"{QUERY}: no model loaded yet")
            return
        entries = {k: v for k, v in snapshot(state, table).items() if k.startswith(prefix)}
        if not entries:
            self._bad("address", f"{QUERY}: no address starts with {prefix!r}")
            return
        self._reply(sender, build_bundles(entries))

    def _reply(self, target: tuple[str, int], packets: list[bytes]) -> None:
        for packet in packets:
            try:
                self._sock.sendto(packet, target)
                self.counters.sent += 1
            except OSError as e:
                self.counters.last_error = f"cannot send OSC to {target[0]}:{target[1]} ({e.strerror or e})"

    def _on_change(self, state: RenderState, version: int) -> None:
        """Send the addresses that changed since the last send (nothing when no target is set)."""
        if self.send_to is None or self.shared.table is None:
            return
        with self._sent_lock:
            if self._sent is not None and version <= self._sent[0]:
                return   # a later change was already sent (two writers raced)
            now = snapshot(state, self.shared.table)
            diff = now if self._sent is None else changed(self._sent[1], now)
            self._sent = (version, now)
        if diff:
            self._reply(self.send_to, build_bundles(diff))
