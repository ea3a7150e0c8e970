"""Help: F1 (or ?) opens a window with the keyboard shortcuts, what the mouse does, and what each control does;
the same words are the controls' tooltips, so each explanation is written once, here.

    TIPS: panel title -> {item tag: what the control does}   (a tooltip on the item, a line in the window)
    MODEL_TIPS: the same for the controls a model brings (one per w index, direction, noise layer), as
                templates that each panel fills in for each control it builds (add_model_tip)
    keyboard.SHORTCUTS: the keys and what they do            (the window's first table)
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from . import keyboard
from .style import DIM_COLOR, NOTE_COLOR

if TYPE_CHECKING:
    from .app import App

MOUSE = (
    ("drag on a slider", "change the value; Ctrl+click a slider to type one"),
    ("right-click a slider", "MIDI learn: the next knob you move is bound to it (Live panel)"),
    ("left / right drag on the picture", "StyleGAN3 models: move / turn the picture (Camera panel)"),
    ("click a seed thumbnail", "that seed becomes A; Shift+click or right-click: B"),
    ("drag a bookmark onto another", "move it there (the walk video follows the order)"),
    ("click the error in the status line", "the whole error, with the earlier ones"),
)

TIPS: dict[str, dict[str, str]] = {
    "Picture": {
        "view.open": "Open a generator: explorer .safetensors, NVlabs .pkl or rosinality .pt",
        "view.exact": "Pixel exact: whole-number zoom, every model pixel a crisp square. Off: smooth scaling "
                      "(the default when a small model is enlarged more than 2x)",
        "view.help": "Keyboard shortcuts and what every control does (F1)",
    },
    "Latents": {
        "latents.a.seed": "Seed of source A: each seed is one random latent z (NVlabs' numbering). Enter to apply",
        "latents.a.w_path": "A w or w+ .npz (from the projector or Save current w) to use as source A",
        "latents.a.w_row": "Which row of the .npz (files from a batch hold one per photo)",
        "latents.b.seed": "Seed of source B, the other end of t and the source style mixing takes from",
        "latents.t": "Interpolate from A (0) to B (1), before style mixing",
        "latents.space": "W lerp: a straight line between the two w. Z slerp: along the sphere between the two z "
                         "(seeds only), the way NVlabs' interpolation videos do",
        "latents.animate": "Move t from A to B and back, 4 s each way (Space)",
    },
    "Truncation": {
        "trunc.psi": "Truncation psi: 1 = as sampled, 0 = the average face, between: more typical, less varied; "
                     "< 0 goes past the average to the opposite",
        "trunc.use_cutoff": "Truncate only the coarse w indices (below the cutoff), as NVlabs' StyleGAN (v1) did",
        "trunc.cutoff": "w indices below this one are truncated; the finer ones keep psi 1",
    },
    "Style mixing": {
        "mix.preset.a_only": "Every w index from A",
        "mix.preset.b_coarse": "Coarse w indices (pose, face shape) from B, the rest from A",
        "mix.preset.b_middle": "Middle w indices (features, hair style) from B, the rest from A",
        "mix.preset.b_fine": "Fine w indices (colour scheme, micro structure) from B, the rest from A",
        "mix.preset.b_only": "Every w index from B",
    },
    "Camera": {
        "camera.tx": "Shift the picture sideways, in image widths (the input transform of StyleGAN3)",
        "camera.ty": "Shift the picture up / down, in image widths",
        "camera.rotate": "Turn the picture around its centre, degrees",
    },
    "Noise": {
        "noise.mode": "const: the fixed noise stored in the model; random: noise drawn from the noise seed; "
                      "none: no noise (smoother hair and skin)",
        "noise.seed": "Seed of the random noise (mode random)",
        "noise.reset": "Every noise layer back to strength 1 and every resolution on",
    },
    "Directions": {
        "dirs.source": "SeFa: directions found in closed form from the model's weights; or a .npz loaded below",
        "dirs.range": "Which w indices the directions act on (and, for SeFa, are computed from)",
        "dirs.custom": "Your own range of w indices, e.g. 0-3",
        "dirs.path": "A directions .npz (rows of w_dim numbers), e.g. from another tool",
        "dirs.reset": "Every direction's slider back to 0",
    },
    "Blend with a second model": {
        "blend.path": "A second checkpoint of the same architecture (e.g. a fine-tuned copy) to blend layer by layer",
        "blend.off": "Back to this model alone",
    },
    "Seed browser": {
        "seeds.grid": "Thumbnails per page",
        "seeds.start": "The page's first seed (type one and press Enter to go there)",
        "seeds.prev": "The previous page (PgUp)",
        "seeds.next": "The next page (PgDn)",
        "seeds.random": "A page of random seeds (< and > then step through random pages)",
        "seeds.from_a": "A page starting at seed A",
    },
    "Bookmarks": {
        "bookmarks.add": "Keep the frame on screen, with its full state (B)",
        "bookmarks.frames": "Frames from one bookmark to the next in the walk video",
        "bookmarks.loop": "The walk returns from the last bookmark to the first",
        "bookmarks.video": "Render a video that passes through every bookmark, in order",
    },
    "Capture": {
        "capture.dir": "Where images, w files and videos go when no other path is given",
        "capture.save_image": "Save the frame as PNG, its full state inside it and beside it (.json) (Ctrl+S)",
        "capture.save_w": "Save the ws this frame renders with (w+ .npz): load it as A to get the frame back",
        "capture.session": "A session file: the state, the bookmarks and the MIDI bindings",
    },
    "Record": {
        "record.keys": "A -> B: one interpolation; keyframe list: a walk through the A's added below",
        "record.frames": "Frames from one keyframe to the next",
        "record.interp": "How the walk moves between keyframes: linear, or cubic (smooth through them)",
        "record.walk": "Render the walk to the path (MP4 or GIF), with progress and Cancel",
        "record.live": "Record the frames shown while you drag controls, at the fps above",
        "record.mix_grid": "A figure: A (rows) mixed with B (columns) at each level the model has",
        "record.noise_figure": "A figure: the frame with noise per level, all, none, and its standard deviation map",
    },
    "Projector": {
        "project.path": "A photo to find in the model's latent space (it is cropped to a square)",
        "project.steps": "Optimisation steps: more is closer and slower",
        "project.space": "W: one w for every layer (edits well); W+: one per w index (closer, edits less well)",
        "project.loss": "What closeness means: perceptual features, pixels (L2) and structure (SSIM), or some of them",
        "project.auto": "Use the result as A as soon as the projection ends",
    },
    "Photo framing": {
        "framing.mode": "centre: the middle square; crop: a square you drag, scale and turn; eyes + mouth: click "
                        "the left eye, the right eye and the mouth, and FFHQ's recipe frames the face",
        "framing.x": "The crop's left edge in the photo, px (Enter to apply)",
        "framing.size": "The crop's side in the photo, px",
        "framing.angle": "Turn the crop, degrees (a tilted head comes out level)",
    },
    "Tune generator": {
        "tune.steps": "Tuning steps: more draws the photo more closely and takes longer",
        "tune.original": "Open the generator the tuned one came from",
        "tune.use_tuned": "Back to the tuned generator",
    },
    "Live: OSC and MIDI": {
        "live.osc": "Listen for OSC messages (/explorer/psi 0.5 ...) on the address beside it",
        "live.osc_send": "Also send every state change to this host:port (empty: do not send)",
        "live.midi": "Take MIDI control changes from the port beside it",
        "live.learn": "Bind the next MIDI knob you move to the address above",
    },
    "Model": {
        "model.path": "A checkpoint to open: .safetensors, NVlabs .pkl (read without running its code) or .pt",
        "model.device": "auto: a GPU when there is one",
        "model.precision": "auto: fp16 on GPUs where NVlabs used it, fp32 on the CPU; bf16 is faster on CPUs "
                           "that have it for StyleGAN2, but 2-3x slower for StyleGAN3 (its filters have no fast "
                           "bf16 kernels on CPUs)",
    },
    "Layer viewer": {
        "layers.layer": "A synthesis layer to look inside (taken from the frame just drawn)",
        "layers.mode": "mean |activation| over the layer's channels, or one channel",
        "layers.channel": "Which channel",
    },
}


# Controls built per model: tag prefix -> (how the help window names them, what each does, as a template).
MODEL_TIPS: dict[str, tuple[str, str]] = {
    "mix.group": ("Style mixing: a level", "Every {level} w index ({span}) at once: 0 takes them from A, 1 from B"),
    "mix.w": ("Style mixing: w index", "w index {index}, {level} ({caption}): 0 takes it from A, 1 from B, "
                                       "between blends the two"),
    "dirs.d": ("Directions: #i", "Move w along direction #{index}{eig} on w indices {layers}, in standard "
                                 "deviations of w along it (0: not at all)"),
    "noise.res": ("Noise: a resolution", "Every noise input at {res} px on or off"),
    "noise.scale": ("Noise: one layer", "Strength of {name}'s noise: 1 as trained, 0 none, up to {top:g}"),
}


def add_model_tip(item: "str | int", prefix: str, **fields) -> None:
    """The tooltip of a control a model brought (its tag starts with `prefix`), from MODEL_TIPS."""
    tag = item if isinstance(item, str) else dpg.get_item_alias(item)
    with dpg.tooltip(tag, tag=f"{tag}.tip"):
        dpg.add_text(MODEL_TIPS[prefix][1].format(**fields), wrap=360)


class HelpWindow:
    """The help window (hidden until F1 / ?) and the controls' tooltips, both from TIPS."""

    def __init__(self, app: "App"):
        self.app = app

    def build(self) -> None:
        """Tooltips on every control in TIPS (after the panels are built), and the window itself."""
        for tips in TIPS.values():
            for tag, text in tips.items():
                with dpg.tooltip(tag, tag=f"{tag}.tip"):
                    dpg.add_text(text, wrap=360)
        with dpg.window(tag="help.window", label="Help (F1)", show=False, width=760, height=620, pos=(120, 60),
                        no_collapse=True):
            dpg.add_text("Keys (not while typing in a box)", color=NOTE_COLOR)
            self._table("help.keys", [(s.label, s.does) for s in keyboard.SHORTCUTS])
            dpg.add_text("Mouse", color=NOTE_COLOR)
            self._table("help.mouse", MOUSE)
            dpg.add_text("Controls (hover over one for the same words)", color=NOTE_COLOR)
            for section, tips in TIPS.items():
                with dpg.tree_node(label=section, default_open=False):
                    self._table(None, [(_name(tag), text) for tag, text in tips.items()])
            with dpg.tree_node(label="Per model (one per w index, direction, noise layer)", default_open=False):
                self._table(None, [(name, template.replace("{", "").replace("}", ""))
                                   for name, template in MODEL_TIPS.values()])
            dpg.add_button(tag="help.close", label="Close", callback=self.toggle)

    @staticmethod
    def _table(tag, rows) -> None:
        with dpg.table(tag=tag or 0, header_row=False, borders_innerH=True, policy=dpg.mvTable_SizingStretchProp):
            dpg.add_table_column(init_width_or_weight=0.3)
            dpg.add_table_column(init_width_or_weight=0.7)
            for left, right in rows:
                with dpg.table_row():
                    dpg.add_text(left, color=DIM_COLOR, wrap=200)
                    dpg.add_text(right, wrap=480)

    def toggle(self) -> None:
        """Show the help window, or hide it when it is on show."""
        if dpg.is_item_shown("help.window"):
            dpg.hide_item("help.window")
        else:
            dpg.show_item("help.window")
            dpg.focus_item("help.window")


def _name(tag: str) -> str:
    """A control as the window names it: its label, else its hint, else the last part of its tag."""
    label = (dpg.get_item_label(tag) or "").strip()
    if not label:
        label = str(dpg.get_item_configuration(tag).get("hint") or "").strip()
    return label or tag.rsplit(".", 1)[-1].replace("_", " ")
