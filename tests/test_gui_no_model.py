"""The window before any model has loaded (the first one failed): controls that need a model's layers say so
instead of offering values from nowhere, and come alive with the first model that loads."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def modelless_app(display, request, tmp_path_factory):
    from tests.helpers.gui_display import app_or_rerun
    from widgets.app import App

    d = tmp_path_factory.mktemp("app")
    bad = d / "broken.pkl"
    bad.write_bytes(b"not a pickle at all")
    app = app_or_rerun(lambda: App(checkpoint=str(bad), device="cpu", width=1000, height=700,
                                   recent_file=str(d / "recent.json"), capture_dir=str(d / "captures")),
                       request, tmp_path_factory)
    result = app.wait_for_render()
    assert result is not None and result.error is not None
    yield app
    app.close()


def test_truncation_cutoff_waits_for_a_model(modelless_app, models):
    import dearpygui.dearpygui as dpg
    from tests.helpers.gui_display import frame

    assert modelless_app.info is None and "broken.pkl" in (modelless_app.last_error or "")
    assert not dpg.get_item_configuration("trunc.use_cutoff")["enabled"]
    assert dpg.get_item_configuration("trunc.cutoff")["max_value"] == 0

    modelless_app.load_checkpoint(models.g64)
    modelless_app.wait_for_render()
    frame(modelless_app)
    assert modelless_app.info is not None
    assert dpg.get_item_configuration("trunc.use_cutoff")["enabled"]
    assert dpg.get_item_configuration("trunc.cutoff")["max_value"] == modelless_app.info.num_ws
