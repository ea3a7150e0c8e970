"""The layout docs/ARCHITECTURE.md describes: Dear PyGui only in widgets/, the engine never imports the GUI,
and the names the README's Python example uses are where it says."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports (absolute names; relative imports resolved against its package)."""
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    return names


def test_every_widgets_module_draws_with_dear_pygui():
    """A file in widgets/ that does not use Dear PyGui is engine code in the wrong room."""
    files = [p for p in sorted((ROOT / "widgets").glob("*.py")) if p.name != "__init__.py"]
    assert len(files) > 10
    gui_free = [p.name for p in files if "dearpygui.dearpygui" not in imported_modules(p)]
    assert gui_free == []


def test_the_engine_never_imports_the_gui():
    """explorer/ runs without a display; only `explorer gui` opens the window (widgets.app)."""
    offenders = []
    for path in sorted((ROOT / "explorer").rglob("*.py")):
        mods = imported_modules(path)
        gui = {m for m in mods if m.split(".")[0] in ("dearpygui", "widgets")}
        if gui and not (path == ROOT / "explorer/commands/gui.py" and gui <= {"widgets.app", "widgets.app.App"}):
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(gui)}")
    assert offenders == []


def test_grids_do_not_depend_on_videos():
    assert not any(m.startswith("explorer.video") for m in imported_modules(ROOT / "explorer/grid.py"))


def test_render_package_exports_the_readme_names():
    from explorer.render import Renderer, RenderState, RenderWorker, Source
    from explorer.render.renderer import Renderer as R
    from explorer.render.state import RenderState as S
    from explorer.render.worker import RenderWorker as W

    assert (Renderer, RenderState, RenderWorker) == (R, S, W) and Source(seed=3).seed == 3


def test_readme_python_example_runs_on_the_bundled_model():
    """The README's Python API block, as written, with the bundled generator standing in for ffhq.pkl."""
    import numpy as np
    import torch

    from explorer.bundled import default_checkpoint

    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Python API", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    assert "from explorer.render import Renderer, RenderState, Source" in block
    torch.manual_seed(0)
    scope = {"z": torch.randn(2, 512), "c": None}
    exec(block.replace('"ffhq.pkl"', repr(str(default_checkpoint()))), scope)
    assert scope["img"].shape == (2, 3, 64, 64) and scope["ws"].shape == (2, 10, 512)
    frame = scope["frame"]
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8 and frame.std() > 10
