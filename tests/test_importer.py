"""Mesh import with label maps: formats, frames, labels, the Piece contract and every user error."""

from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import trimesh

from scene_library.errors import SceneError
from scene_library.importer import LabelMap, UnlabelledMeshWarning, import_piece, import_scene, load_label_map
from synthcam_core.labels import class40_id

CHAIR, TABLE, SOFA, OTHERPROP, NIGHT_STAND = (
    class40_id(n) for n in ("chair", "table", "sofa", "otherprop", "night stand")
)

LABELS_YAML = """\
# test label map
default: otherprop
labels:
  Chair_01: chair
  "re:table_.*": table
  table_special: Night_Stand     # exact beats the regex above
  "re:.*frame": sofa
"""


def box_at(extents: tuple[float, float, float], center: tuple[float, float, float]) -> trimesh.Trimesh:
    """Axis-aligned box (metres) with the given extents and centre."""
    return trimesh.creation.box(extents=extents, transform=trimesh.transformations.translation_matrix(center))


def named_scene(items: dict[str, trimesh.Trimesh]) -> trimesh.Scene:
    """A trimesh scene with one node per item; node and geometry share the name (OBJ export writes geometry names)."""
    scene = trimesh.Scene()
    for name, mesh in items.items():
        scene.add_geometry(mesh, node_name=name, geom_name=name)
    return scene


def furniture() -> dict[str, trimesh.Trimesh]:
    """Four named boxes, partly below z = 0 and at negative x, so the importer has to move them."""
    return {
        "Chair_01": box_at((0.5, 0.5, 0.9), (-1.0, 0.0, 0.0)),
        "table_top": box_at((1.2, 0.8, 0.05), (1.0, 0.5, 0.3)),
        "table_special": box_at((0.4, 0.4, 0.4), (2.0, 2.0, 0.0)),
        "sofa_frame": box_at((2.0, 0.9, 0.8), (0.0, 3.0, 0.1)),
    }


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def export(scene: trimesh.Scene, path: Path) -> Path:
    """Export a trimesh scene to ``path`` (format from the suffix)."""
    path.write_bytes(
        scene.export(file_type=path.suffix[1:]) if path.suffix != ".obj" else scene.export(file_type="obj").encode()
    )
    return path


def write_gltf(path: Path, nodes: list[dict]) -> Path:
    """A minimal glTF 2.0 file with an embedded buffer.

    nodes : dicts with ``prims`` (list of Trimesh, one primitive each), optional ``name``, ``mesh_name``
    and ``translation`` (3,). Lets tests write what trimesh's exporter never does: unnamed nodes and
    meshes with several primitives.
    """
    blob, views, accessors, meshes, gltf_nodes = bytearray(), [], [], [], []

    def accessor(array: np.ndarray, kind: str, component: int) -> int:
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": array.nbytes})
        blob.extend(array.tobytes())
        acc = {"bufferView": len(views) - 1, "componentType": component, "count": len(array), "type": kind}
        if kind == "VEC3":
            acc.update(min=array.min(axis=0).tolist(), max=array.max(axis=0).tolist())
        accessors.append(acc)
        return len(accessors) - 1

    for node in nodes:
        prims = [
            {
                "attributes": {"POSITION": accessor(m.vertices.astype(np.float32), "VEC3", 5126)},
                "indices": accessor(m.faces.astype(np.uint32).reshape(-1), "SCALAR", 5125),
                "mode": 4,
            }
            for m in node["prims"]
        ]
        meshes.append({"primitives": prims} | ({"name": node["mesh_name"]} if "mesh_name" in node else {}))
        entry: dict = {"mesh": len(meshes) - 1}
        if "name" in node:
            entry["name"] = node["name"]
        if "translation" in node:
            entry["translation"] = [float(t) for t in node["translation"]]
        gltf_nodes.append(entry)
    uri = "data:application/octet-stream;base64," + base64.b64encode(bytes(blob)).decode()
    header = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": list(range(len(gltf_nodes)))}],
        "nodes": gltf_nodes,
        "meshes": meshes,
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": len(blob), "uri": uri}],
    }
    path.write_text(json.dumps(header))
    return path


@pytest.fixture
def label_map(tmp_path: Path) -> LabelMap:
    return load_label_map(write(tmp_path, "labels.yaml", LABELS_YAML))


def by_name(scene) -> dict:
    return {o.name: o for o in scene.objects}


def all_vertices(meshes) -> np.ndarray:
    return np.concatenate([m.vertices for m in meshes])


# --------------------------------------------------------------------------------------------------
# Label maps
# --------------------------------------------------------------------------------------------------


def test_yaml_label_map_rules_and_priority(label_map):
    assert label_map.default == OTHERPROP
    assert label_map.class_of("Chair_01") == CHAIR
    assert label_map.class_of("table_top") == TABLE  # regex
    assert label_map.class_of("table_special") == NIGHT_STAND  # exact wins over the earlier regex
    assert label_map.class_of("sofa_frame") == SOFA
    assert label_map.class_of("chair_01") == OTHERPROP  # exact names are case-sensitive
    assert label_map.rule_class("lamp") is None


def test_regexes_use_fullmatch_in_file_order(tmp_path):
    text = json.dumps({"labels": {"re:table": "table", "re:tab.*": "desk", "re:(?i).*CHAIR.*": "chair"}})
    labels = load_label_map(write(tmp_path, "m.json", text))
    assert labels.rule_class("table") == TABLE
    assert labels.rule_class("table_top") == class40_id("desk")  # "re:table" must match the whole name
    assert labels.rule_class("my_chair_2") == CHAIR
    assert labels.rule_class("xtable") is None and labels.default is None


def test_json_and_yaml_maps_agree(tmp_path, label_map):
    import yaml

    data = yaml.safe_load(LABELS_YAML)
    from_json = load_label_map(write(tmp_path, "labels.json", json.dumps(data)))
    assert from_json == label_map
    assert load_label_map(write(tmp_path, "labels.yml", LABELS_YAML)) == label_map


@pytest.mark.parametrize(
    "name, text, fragments",
    [
        ("m.yaml", "labels: {a: chair\n", ["not valid YAML", "line", "fix the syntax"]),
        ("m.json", '{"labels": {"a": "chair",}}', ["not valid JSON", "line 1", "fix the syntax"]),
        ("m.yaml", "- chair\n- table\n", ["must be a mapping", "'labels'"]),
        ("m.yaml", "", ["must be a mapping"]),
        (
            "m.yaml",
            "default: chair\nlabel:\n  a: chair\n",
            ["unknown top-level key", "'label'", "only 'default' and 'labels'"],
        ),
        ("m.yaml", "default: chair\n", ["no 'labels' mapping", "add one"]),
        ("m.yaml", "labels: [chair]\n", ["'labels' must map mesh names to class names"]),
        ("m.yaml", "labels:\n  123: chair\n", ["123", "not a string", "quote it"]),
        ("m.yaml", "labels:\n  a: 5\n", ["'a'", "NYU40 class as text"]),
        (
            "m.yaml",
            "labels:\n  a: armchair\n",
            ["rule 'a'", "unknown NYU40 class 'armchair'", "valid names", "chair", "otherprop"],
        ),
        ("m.yaml", "default: stuff\nlabels: {}\n", ["rule 'default'", "unknown NYU40 class 'stuff'", "valid names"]),
        ("m.yaml", 'labels:\n  "re:table_(": table\n', ["regular expression 'table_('", "invalid", "missing"]),
        ("m.yaml", "labels:\n  a: chair\n  a: table\n", ["'a' twice", "keep only one"]),
        ("m.json", '{"labels": {"a": "chair", "a": "table"}}', ["'a' twice", "keep only one"]),
        ("m.txt", "labels: {}", [".yaml, .yml or .json", "rename or convert"]),
    ],
)
def test_label_map_errors_say_what_to_fix(tmp_path, name, text, fragments):
    path = write(tmp_path, name, text)
    with pytest.raises(SceneError) as err:
        load_label_map(path)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message
    assert str(path) in message


def test_binary_label_map_file(tmp_path):
    with pytest.raises(SceneError, match="not UTF-8 text"):
        load_label_map(write(tmp_path, "m.yaml", b"\xff\xfe\x00labels"))


def test_missing_label_map_file(tmp_path):
    with pytest.raises(SceneError, match="does not exist; check the path"):
        load_label_map(tmp_path / "nope.yaml")


def test_label_map_built_in_code_is_validated():
    with pytest.raises(SceneError, match="NYU40 id 1..40"):
        LabelMap(exact=(("a", 99),))
    with pytest.raises(SceneError, match="invalid"):
        LabelMap(patterns=(("(", 3),))


# --------------------------------------------------------------------------------------------------
# import_scene: formats, names, labels
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".glb", ".obj"])
def test_multi_object_formats_keep_names_and_labels(tmp_path, label_map, suffix):
    path = export(named_scene(furniture()), tmp_path / f"room{suffix}")
    scene, unmatched = import_scene(path, label_map)
    assert unmatched == []
    objects = by_name(scene)
    assert set(objects) == set(furniture())
    assert {n: o.class40 for n, o in objects.items()} == {
        "Chair_01": CHAIR,
        "table_top": TABLE,
        "table_special": NIGHT_STAND,
        "sofa_frame": SOFA,
    }
    assert [o.instance_id for o in scene.objects] == [1, 2, 3, 4]
    assert scene.triangle_count == 4 * 12


def test_ply_is_one_object_named_after_the_file(tmp_path, label_map):
    path = tmp_path / "sofa_frame.ply"
    path.write_bytes(box_at((2.0, 0.9, 0.8), (5.0, 5.0, 5.0)).export(file_type="ply"))
    scene, unmatched = import_scene(path, label_map)
    assert unmatched == [] and [(o.name, o.class40, o.instance_id) for o in scene.objects] == [("sofa_frame", SOFA, 1)]
    assert np.allclose(scene.room.size, (2.0, 0.9, 0.8))


def test_off_and_multi_solid_stl(tmp_path, label_map):
    cube = box_at((1.0, 1.0, 1.0), (0.0, 0.0, 0.5))
    off = "OFF\n8 12 0\n" + "".join(f"{x} {y} {z}\n" for x, y, z in cube.vertices)
    off += "".join(f"3 {a} {b} {c}\n" for a, b, c in cube.faces)
    scene, _ = import_scene(write(tmp_path, "Chair_01.off", off), label_map)
    assert [(o.name, o.class40) for o in scene.objects] == [("Chair_01", CHAIR)]

    def solid(name: str, mesh: trimesh.Trimesh) -> str:
        body = mesh.export(file_type="stl_ascii").split("\n", 1)[1].rsplit("endsolid", 1)[0]
        return f"solid {name}\n{body}endsolid {name}\n"

    stl = solid("table_top", cube) + solid("sofa_frame", box_at((1, 1, 1), (3.0, 0.0, 0.5)))
    scene, _ = import_scene(write(tmp_path, "two.stl", stl), label_map)
    assert [(o.name, o.class40) for o in scene.objects] == [("sofa_frame", SOFA), ("table_top", TABLE)]


def test_obj_splits_by_object_not_material_and_falls_back_to_groups(tmp_path, label_map):
    quad = "f {0} {1} {2}\nf {0} {2} {3}\n"
    verts = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1\n"
    objects = verts + "o Chair_01\nusemtl wood\n" + quad.format(1, 2, 3, 4) + "usemtl cloth\n" + quad.format(5, 6, 7, 8)
    objects += "o table_top\n" + quad.format(1, 2, 6, 5)
    scene, _ = import_scene(write(tmp_path, "objects.obj", objects), label_map)
    assert [(o.name, len(o.mesh.faces)) for o in scene.objects] == [("Chair_01", 4), ("table_top", 2)]

    groups = verts + "g sofa_frame\n" + quad.format(1, 2, 3, 4) + "g Chair_01\n" + quad.format(5, 6, 7, 8)
    scene, _ = import_scene(write(tmp_path, "groups.obj", groups), label_map)
    assert {o.name: o.class40 for o in scene.objects} == {"sofa_frame": SOFA, "Chair_01": CHAIR}


def test_unknown_names_get_default_and_one_warning(tmp_path, label_map):
    items = furniture() | {"lamp_2": box_at((0.2, 0.2, 0.5), (0, 0, 0)), "Lamp_10": box_at((0.2, 0.2, 0.5), (1, 1, 0))}
    path = export(named_scene(items), tmp_path / "room.glb")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scene, unmatched = import_scene(path, label_map)
    ours = [w for w in caught if issubclass(w.category, UnlabelledMeshWarning)]
    assert len(ours) == 1
    assert (
        "Lamp_10" in str(ours[0].message) and "lamp_2" in str(ours[0].message) and "'otherprop'" in str(ours[0].message)
    )
    assert ours[0].filename == __file__  # reported at the caller's line
    assert unmatched == ["Lamp_10", "lamp_2"]
    assert by_name(scene)["lamp_2"].class40 == OTHERPROP and by_name(scene)["Lamp_10"].class40 == OTHERPROP


def test_no_default_and_unmatched_names_is_an_error(tmp_path):
    labels = load_label_map(write(tmp_path, "m.json", json.dumps({"labels": {"Chair_01": "chair"}})))
    path = export(named_scene(furniture()), tmp_path / "room.glb")
    with pytest.raises(SceneError) as err:
        import_scene(path, labels)
    message = str(err.value)
    for fragment in ("no label rule", "'sofa_frame'", "'table_top'", "'default:'", str(path)):
        assert fragment in message


def test_label_map_may_be_given_as_a_path(tmp_path):
    labels_path = write(tmp_path, "labels.yaml", LABELS_YAML)
    path = export(named_scene(furniture()), tmp_path / "room.glb")
    scene, _ = import_scene(str(path), str(labels_path))
    assert by_name(scene)["Chair_01"].class40 == CHAIR


# --------------------------------------------------------------------------------------------------
# Frames: floor, up axis, scale, node transforms, room metadata
# --------------------------------------------------------------------------------------------------


def test_floor_at_zero_and_room_is_the_bounding_box(tmp_path, label_map):
    path = export(named_scene(furniture()), tmp_path / "room.glb")
    scene, _ = import_scene(path, label_map, room_type="lab")
    low = np.min([o.mesh.bounds[0] for o in scene.objects], axis=0)
    high = np.max([o.mesh.bounds[1] for o in scene.objects], axis=0)
    assert np.array_equal(low, [0.0, 0.0, 0.0])
    source = trimesh.util.concatenate(list(furniture().values()))
    assert np.allclose(scene.room.size, source.extents) and np.allclose(high, source.extents)
    assert scene.room.room_type == "lab" and scene.room.keep_clear.shape == (0, 4) and scene.room.polygon is None
    # relative placement is kept: the chair is 2 m left of the small table in x
    objects = by_name(scene)
    assert np.allclose(
        objects["table_special"].mesh.centroid - objects["Chair_01"].mesh.centroid, (3.0, 2.0, 0.0), atol=1e-6
    )


def test_y_up_glb_becomes_z_up(tmp_path, label_map):
    # a 2 m tall (along file y) column, and a box 3 m in front of it (glTF front = +z)
    items = {
        "Chair_01": box_at((0.4, 2.0, 0.6), (0.0, 1.0, 0.0)),
        "table_top": box_at((0.2, 0.2, 0.2), (0.0, 0.1, 3.0)),
    }
    path = export(named_scene(items), tmp_path / "yup.glb")
    scene, _ = import_scene(path, label_map, up="y")
    column = by_name(scene)["Chair_01"].mesh
    assert np.allclose(column.extents, (0.4, 0.6, 2.0))  # tall along z
    assert column.bounds[0, 2] == 0.0
    front = by_name(scene)["table_top"].mesh
    assert front.centroid[1] < column.centroid[1] - 2.5  # glTF +z (front) -> project -y
    assert np.allclose(scene.room.size[2], 2.0)
    flat, _ = import_scene(path, label_map, up="z")  # without conversion the column lies along y
    assert np.allclose(by_name(flat)["Chair_01"].mesh.extents, (0.4, 2.0, 0.6))


def test_scale_converts_units(tmp_path, label_map):
    path = export(named_scene({"Chair_01": box_at((50.0, 40.0, 90.0), (0, 0, 45.0))}), tmp_path / "cm.glb")
    scene, _ = import_scene(path, label_map, scale=0.01)
    assert np.allclose(scene.room.size, (0.5, 0.4, 0.9))


def test_gltf_node_transforms_unnamed_nodes_and_multi_primitive_meshes(tmp_path, label_map):
    cube = box_at((1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    nodes = [
        {"name": "sofa_frame", "prims": [cube, box_at((1.0, 1.0, 1.0), (0.0, 0.0, 2.0))]},  # two materials
        {"mesh_name": "Chair_01", "prims": [cube], "translation": (5.0, 0.0, 0.0)},  # unnamed node -> mesh name
    ]
    path = write_gltf(tmp_path / "model.gltf", nodes)
    runs = [import_scene(path, label_map) for _ in range(3)]
    scene = runs[0][0]
    assert [(o.name, o.class40, o.instance_id, len(o.mesh.faces)) for o in scene.objects] == [
        ("Chair_01", CHAIR, 1, 12),
        ("sofa_frame", SOFA, 2, 24),
    ]
    assert np.allclose(
        by_name(scene)["Chair_01"].mesh.bounds[0, 0], 5.0
    )  # node translation applied (min x of sofa is 0)
    for other, _ in runs[1:]:  # trimesh names primitive frames randomly; the result must not depend on it
        assert [o.name for o in other.objects] == [o.name for o in scene.objects]
        for a, b in zip(other.objects, scene.objects):
            assert np.array_equal(a.mesh.vertices, b.mesh.vertices) and np.array_equal(a.mesh.faces, b.mesh.faces)


@pytest.mark.filterwarnings("ignore::scene_library.importer.UnlabelledMeshWarning")
def test_instance_ids_are_deterministic_and_format_independent(tmp_path, label_map):
    items = {f"chair_{i}": box_at((0.3, 0.3, 0.3), (i, 0, 0)) for i in (10, 2, 1)} | furniture()
    glb = export(named_scene(items), tmp_path / "a.glb")
    obj = export(named_scene(dict(reversed(list(items.items())))), tmp_path / "b.obj")
    tables = [[(o.instance_id, o.name) for o in import_scene(p, label_map)[0].objects] for p in (glb, glb, obj)]
    assert tables[0] == tables[1] == tables[2]
    names = [n for _, n in tables[0]]
    assert names == ["Chair_01", "chair_1", "chair_2", "chair_10", "sofa_frame", "table_special", "table_top"]
    assert [i for i, _ in tables[0]] == list(range(1, len(items) + 1))


# --------------------------------------------------------------------------------------------------
# import_piece
# --------------------------------------------------------------------------------------------------


def test_import_piece_obeys_the_local_frame_contract(tmp_path, label_map):
    path = export(named_scene(furniture()), tmp_path / "group.glb")
    piece = import_piece(path, label_map, kind="user_set", up="y", scale=0.5)
    assert piece.kind == "user_set" and piece.params == {"path": str(path), "up": "y", "scale": 0.5}
    assert {p.name: p.class40 for p in piece.parts} == {
        "Chair_01": CHAIR,
        "table_top": TABLE,
        "table_special": NIGHT_STAND,
        "sofa_frame": SOFA,
    }
    v = all_vertices(p.mesh for p in piece.parts)
    assert v[:, 2].min() == 0.0
    assert np.all(np.abs(v[:, 0]) <= piece.width / 2) and np.all(np.abs(v[:, 1]) <= piece.depth / 2)
    assert np.all(v[:, 2] <= piece.height)
    assert np.allclose((v.min(axis=0)[:2] + v.max(axis=0)[:2]) / 2, 0.0, atol=1e-12)  # footprint centred
    source = trimesh.util.concatenate(list(furniture().values())).extents * 0.5  # y-up: (x, y, z) -> (x, -z, y)
    assert np.allclose((piece.width, piece.depth, piece.height), (source[0], source[2], source[1]))
    assert piece.supports == ()


def test_import_piece_rebuilds_from_its_params(tmp_path, label_map):
    path = tmp_path / "Chair_01.ply"
    path.write_bytes(box_at((0.5, 0.6, 0.9), (10.0, -3.0, 7.0)).export(file_type="ply"))
    piece = import_piece(path, label_map)
    again = import_piece(piece.params["path"], label_map, up=piece.params["up"], scale=piece.params["scale"])
    assert [(p.name, p.class40) for p in piece.parts] == [("Chair_01", CHAIR)]
    assert np.array_equal(piece.parts[0].mesh.vertices, again.parts[0].mesh.vertices)
    assert np.allclose((piece.width, piece.depth, piece.height), (0.5, 0.6, 0.9))


# --------------------------------------------------------------------------------------------------
# Mesh-file errors
# --------------------------------------------------------------------------------------------------


def good_glb(tmp_path: Path) -> bytes:
    return export(named_scene(furniture()), tmp_path / "good.glb").read_bytes()


def nan_gltf(tmp_path: Path) -> bytes:
    mesh = trimesh.Trimesh(vertices=[[0, 0, 0], [1, 0, 0], [np.nan, 1, 0]], faces=[[0, 1, 2]], process=False)
    return write_gltf(tmp_path / "src.gltf", [{"name": "Chair_01", "prims": [mesh]}]).read_bytes()


@pytest.mark.parametrize(
    "name, make, fragments",
    [
        (
            "random.glb",
            lambda t: np.random.default_rng(0).bytes(600),
            ["cannot read", "as GLB", "corrupt, truncated", "re-export"],
        ),
        ("random.ply", lambda t: np.random.default_rng(1).bytes(600), ["cannot read", "as PLY", "re-export"]),
        ("half.glb", lambda t: good_glb(t)[: len(good_glb(t)) // 2], ["cannot read", "as GLB", "truncated"]),
        ("half.ply", lambda t: box_at((1, 1, 1), (0, 0, 0)).export(file_type="ply")[:-40], ["cannot read", "as PLY"]),
        ("empty.obj", lambda t: b"", ["no triangle faces", "export the model as a triangle mesh"]),
        ("points.obj", lambda t: b"v 0 0 0\nv 1 0 0\nv 0 1 0\n", ["no triangle faces"]),
        ("random.stl", lambda t: np.random.default_rng(2).bytes(600), ["no triangle faces"]),
        (
            "nan.obj",
            lambda t: b"o Chair_01\nv 0 0 0\nv 1 0 0\nv nan 1 0\nf 1 2 3\n",
            ["no triangle faces"],
        ),  # trimesh drops it
        ("nan.gltf", lambda t: nan_gltf(t), ["'Chair_01'", "NaN or infinite", "re-export"]),
        ("model.abc", lambda t: b"whatever", ["no mesh-file suffix", "glb", "obj", "ply"]),
        ("model", lambda t: b"whatever", ["no mesh-file suffix"]),
    ],
)
def test_bad_mesh_files_raise_scene_error(tmp_path, label_map, name, make, fragments):
    path = write(tmp_path, name, make(tmp_path))
    for load in (import_scene, import_piece):
        with pytest.raises(SceneError) as err:
            load(path, label_map)
        message = str(err.value)
        assert str(path) in message
        for fragment in fragments:
            assert fragment in message


def test_missing_mesh_file(tmp_path, label_map):
    with pytest.raises(SceneError, match="does not exist; check the path"):
        import_scene(tmp_path / "missing.glb", label_map)
    with pytest.raises(SceneError, match="does not exist"):
        import_piece(tmp_path / "missing.obj", label_map)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"up": "x"}, "up must be 'z' or 'y'"),
        ({"scale": 0.0}, "scale must be a positive"),
        ({"scale": float("nan")}, "scale must be a positive"),
    ],
)
def test_bad_frame_arguments(tmp_path, label_map, kwargs, fragment):
    path = export(named_scene(furniture()), tmp_path / "room.glb")
    with pytest.raises(SceneError, match=fragment):
        import_scene(path, label_map, **kwargs)
