"""scene_library.checks.unsupported needs the description a scene was built from."""

from __future__ import annotations

import numpy as np
import pytest

from scene_library.checks import unsupported
from scene_library.errors import SceneError
from scene_library.scene import Room, Scene


def test_unsupported_of_a_scene_without_description_is_one_error():
    scene = Scene(room=Room("bedroom", (3.0, 3.0, 2.5), np.zeros((0, 4))), objects=())
    with pytest.raises(SceneError, match="built from a description"):
        unsupported(scene)
