"""What a new user first sees: the app, started without a checkpoint, opens the bundled generator on the seed pair
`explorer showcase` picked for it (checkpoints/card/seeds.json), and the image on screen is the one that was scored."""
from __future__ import annotations

import numpy as np
import pytest

from explorer.bundled import bundled_path, showcase_path
from explorer.train.showcase import read_showcase, seed_images

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def picks():
    rec = read_showcase(showcase_path(), bundled_path())
    if rec is None:   # tests/test_showcase.py fails in that case and says how to mend it
        pytest.skip("checkpoints/card/seeds.json was not made for the bundled file")
    return rec


@pytest.fixture(scope="module")
def bundled_app(display, picks, request, tmp_path_factory):
    from tests.helpers.gui_display import app_or_rerun
    from widgets.app import App

    env = pytest.MonkeyPatch()
    env.delenv("EXPLORER_CHECKPOINT", raising=False)     # the first start: nothing chosen yet
    d = tmp_path_factory.mktemp("app")
    app = app_or_rerun(lambda: App(device="cpu", width=1000, height=700, recent_file=str(d / "recent.json"),
                                   capture_dir=str(d / "captures")), request, tmp_path_factory)
    result = app.wait_for_render()
    assert result is not None and result.error is None
    yield app
    app.close()
    env.undo()


def test_the_app_opens_the_bundled_model_on_the_picked_pair(bundled_app, picks):
    a, b = picks["default_pair"]
    assert (bundled_app.state.a.seed, bundled_app.state.b.seed) == (a, b)
    assert bundled_app.last_frame.state.a.seed == a
    assert bundled_app.info.resolution == 64


def test_the_image_on_screen_is_the_one_showcase_scored(bundled_app, picks):
    from explorer.io import load_generator

    G = load_generator(str(bundled_path()), device="cpu")
    scored = seed_images(G, [picks["default_pair"][0]])[0].permute(1, 2, 0).numpy().astype(np.float32)
    shown = bundled_app.current_image().astype(np.float32)
    assert shown.shape == scored.shape
    assert np.abs(shown - scored).mean() < 2.0              # the same face (rounding and precision aside)
