"""glTF header checks take malformed JSON values without crashing: the loader reports what it cannot read."""

from __future__ import annotations

import json

import pytest

from scene_library.errors import SceneError
from scene_library.importer import import_piece, load_label_map
from scene_library.mesh_checks import check_mesh_file


@pytest.mark.parametrize(
    "accessor",
    [
        {"count": 3, "componentType": [5126], "type": "VEC3"},
        {"count": 3, "componentType": 5126, "type": {"a": 1}},
        {"count": 3, "componentType": None, "type": ["VEC3"]},
    ],
)
def test_unhashable_accessor_fields_are_left_to_the_loader(tmp_path, accessor):
    path = tmp_path / "odd.gltf"
    path.write_text(json.dumps({"asset": {"version": "2.0"}, "accessors": [accessor]}))
    check_mesh_file(path, "gltf")  # no TypeError: such an accessor counts as the largest item size
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"labels": {}, "default": "otherprop"}))
    with pytest.raises(SceneError):
        import_piece(path, load_label_map(labels))
