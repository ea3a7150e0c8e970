"""`explorer gui`: the desktop app; with --screenshot it renders, saves the whole window as PNG and exits."""
from __future__ import annotations

import argparse
import sys

from . import add_checkpoint_arg, add_device_arg, add_precision_arg
from .values import count, path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the explorer window")
    add_checkpoint_arg(p)
    add_device_arg(p)
    add_precision_arg(p)
    p.add_argument("--session", type=path, default=None, metavar="JSON", help="start from a saved session (with its bookmarks "
                                                                   "and MIDI bindings)")
    p.add_argument("--osc", default=None, metavar="HOST:PORT",
                   help="listen for OSC control (e.g. 127.0.0.1:9000; see the README for the addresses)")
    p.add_argument("--osc-send", default=None, metavar="HOST:PORT", help="send every change of the state there over OSC")
    p.add_argument("--midi", default=None, metavar="PORT",
                   help="take MIDI from this input port, or 'virtual' for a port of the app's own")
    p.add_argument("--screenshot", type=path, default=None, metavar="FILE",
                   help="render, save the whole window to FILE (PNG) and exit")
    p.add_argument("--frames", type=count(1, 1_000_000), default=30, help="UI frames to draw before the screenshot (default 30)")
    p.add_argument("--group", default=None, metavar="NAME",
                   help="the group of controls on show at start (a tab name above the control column)")
    p.add_argument("--width", type=count(320, 16384), default=1400, help="window width, px")
    p.add_argument("--height", type=count(240, 16384), default=900, help="window height, px")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..app.display import check_display

    check_display()  # before Dear PyGui: without a display it aborts the process
    from widgets.app import App

    from ..live.session import LiveSession
    session = LiveSession.load(args.session) if args.session else None
    state = session.state if session else None
    device = args.device if args.device != "auto" or state is None else None
    precision = args.precision if args.precision != "auto" or state is None else None
    app = App(checkpoint=args.checkpoint, device=device, precision=precision, state=state,
              width=args.width, height=args.height, group=args.group)
    try:
        if session is not None:
            app.live.restore(session)
        if args.osc:
            app.live.start_osc(args.osc, args.osc_send)
        if args.midi:
            app.live.open_midi(None if args.midi == "virtual" else args.midi)
        if args.screenshot is None:
            app.run()
            return 0
        app.wait_for_render(timeout=600)     # the first real frame (the model loads on the worker)
        app.run_frames(max(args.frames, 0))
        app.screenshot(args.screenshot)
        if app.last_frame is None:
            print(f"explorer gui: error: {app.last_error}", file=sys.stderr)
            return 1
        return 0
    finally:
        app.close()
