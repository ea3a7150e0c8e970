"""Checks shared by the renderer tests of every generator family."""
from __future__ import annotations

import numpy as np


def assert_resumes_with_identical_pixels(cached, fresh, state, cases: dict) -> None:
    """For each case name -> (changed state, first layer it must rerun from): the cached renderer resumes at
    that layer, gives the uncached renderer's pixels, changes the image, and comes back to the base image."""
    base = cached.render(state)
    for name, (changed, first_layer) in cases.items():
        img = cached.render(changed)
        assert cached.stats.first_layer == first_layer, name
        assert np.array_equal(img, fresh.render(changed)), name
        assert not np.array_equal(img, base), f"{name} changed nothing"
        assert np.array_equal(cached.render(state), base), f"back from {name}"
