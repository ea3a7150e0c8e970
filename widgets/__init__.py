"""The Dear PyGui explorer: one panel per file, wired by app.py; panels read and write RenderState only.

Nothing here is imported by the engine (explorer/); `explorer gui` imports widgets.app when it runs.
"""
