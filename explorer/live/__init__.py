"""Playing the explorer live: OSC and MIDI control of the RenderState, bookmarks, and blending two generators.

controls.py is the address space every remote control shares; shared.py the state they all write; osc.py,
midi.py the two ways in; bookmarks.py and session.py what a live session keeps.
"""
