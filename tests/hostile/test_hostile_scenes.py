"""Hostile and careless scene input (issue 12, cases 6 and 9): label maps, user meshes and scene
descriptions are refused with one ``error:`` line and exit 2, in bounded time and memory.

Driven through the CLI as a user would: ``scenes import MESH --labels MAP``, ``scenes sample --add``,
``scenes preview DESC.json --views 0`` and ``generate --scene DESC.json``. Cases that would hang or
exhaust memory on unfixed code run in a subprocess with a time and address-space limit.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import cli.main
from scene_library.objects import get_spec

CODE_ROOT = Path(cli.main.__file__).resolve().parents[1]  # the code under test (also for subprocesses)
LABELS = {"default": "otherprop", "labels": {"box": "box"}}


# --- helpers ----------------------------------------------------------------------------------------


def write_obj(path: Path, parts: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]]) -> Path:
    """An OBJ file with one ``o`` object per named axis-aligned box ``name: (low corner, high corner)``."""
    lines, base = [], 1
    for name, (lo, hi) in parts.items():
        lines.append(f"o {name}")
        for i in range(8):
            x, y, z = (hi[k] if (i >> k) & 1 else lo[k] for k in range(3))
            lines.append(f"v {x!r} {y!r} {z!r}")
        for a, b, c, d in ((0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)):
            lines.append(f"f {base + a} {base + b} {base + c}")
            lines.append(f"f {base + a} {base + c} {base + d}")
        base += 8
    path.write_text("\n".join(lines) + "\n")
    return path


def write_labels(path: Path, data: dict | str = LABELS) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def unit_box(tmp_path: Path, name: str = "box") -> Path:
    return write_obj(tmp_path / "model.obj", {name: ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))})


def import_args(mesh: Path, labels: Path, out: Path, *extra: str) -> list[str]:
    return ["scenes", "import", str(mesh), "--labels", str(labels), "--out", str(out), *extra]


def run_bounded(*args: str, timeout: float = 25, memory_gib: float = 4) -> SimpleNamespace:
    """The synthcam command in a fresh process running the code under test, limited to ``timeout`` s and
    ``memory_gib`` GiB of address space; a result shaped like click's (exit_code, output)."""
    limit = int(memory_gib * (1 << 30))

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = {**os.environ, "PYTHONPATH": str(CODE_ROOT)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            cwd=CODE_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=cap,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"synthcam {' '.join(args[:2])} did not finish in {timeout} s")
    output = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("warning:"))
    return SimpleNamespace(exit_code=done.returncode, output=done.stdout + output, exception=None)


def description(objects: list[dict] | None = None, **room) -> dict:
    """A small valid scene description: a 4 x 3 m room, 2.5 m high, with a cup on the floor."""
    cup = {
        "name": "cup_0",
        "kind": "cup",
        "params": get_spec("cup").sample(np.random.default_rng(0)),
        "pose": [2.0, 1.5, 0.0, 0.0],
    }
    return {
        "format": "synthcam-scene",
        "version": 1,
        "room": {"type": "bedroom", "polygon": [[0, 0], [4, 0], [4, 3], [0, 3]], "height": 2.5, **room},
        "keep_clear": [],
        "objects": [cup] if objects is None else objects,
    }


def write_description(path: Path, data: dict | str) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def preview(cli, desc: Path, tmp_path: Path):
    return cli("scenes", "preview", str(desc), "--views", "0", "--out", str(tmp_path / "png"))


# --- label maps (case 6) ----------------------------------------------------------------------------

BILLION_LAUGHS = """\
labels:
  box: [&a [lol, lol, lol, lol, lol, lol, lol, lol, lol], &b [*a, *a, *a, *a, *a, *a, *a, *a, *a],
        &c [*b, *b, *b, *b, *b, *b, *b, *b, *b], &d [*c, *c, *c, *c, *c, *c, *c, *c, *c],
        &e [*d, *d, *d, *d, *d, *d, *d, *d, *d], &f [*e, *e, *e, *e, *e, *e, *e, *e, *e],
        &g [*f, *f, *f, *f, *f, *f, *f, *f, *f], &h [*g, *g, *g, *g, *g, *g, *g, *g, *g],
        &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]]
"""  # 9**9 = 387 million "lol"s once the aliases are expanded (as printing the value does)


def test_yaml_alias_bomb_is_refused(tmp_path, one_line_error):
    labels = write_labels(tmp_path / "bomb.yaml", BILLION_LAUGHS)
    result = run_bounded(*import_args(unit_box(tmp_path), labels, tmp_path / "o.glb"))
    one_line_error(result, "alias", "bomb.yaml")
    assert not (tmp_path / "o.glb").exists()


@pytest.mark.parametrize(
    "pattern, name, outcome",
    [
        ("(a+)+$", "a" * 40 + "!", "fast"),  # the issue's pattern: backtracks for ever in Python's re
        ("(a|a)+$", "a" * 40 + "!", "refused"),  # backtracks for ever in any engine: the time limit names it
    ],
)
def test_label_map_regex_time_is_bounded(tmp_path, one_line_error, pattern, name, outcome):
    labels = write_labels(tmp_path / "l.json", {"default": "otherprop", "labels": {f"re:{pattern}": "chair"}})
    mesh = unit_box(tmp_path, name)
    t0 = time.monotonic()
    result = run_bounded(*import_args(mesh, labels, tmp_path / "o.glb"), timeout=20)
    if outcome == "fast":
        assert result.exit_code == 0, result.output
    else:
        one_line_error(result, f"'re:{pattern}'", "takes over", "simplify the pattern")
    assert time.monotonic() - t0 < 15


def test_label_map_regex_that_expands_on_compiling_is_refused(tmp_path, cli, one_line_error):
    labels = write_labels(tmp_path / "l.json", {"default": "otherprop", "labels": {"re:(a{10000}){10000}": "chair"}})
    one_line_error(
        cli(*import_args(unit_box(tmp_path), labels, tmp_path / "o.glb")), "(a{10000}){10000}", "repeats too much"
    )


def test_huge_label_map_file_is_refused(tmp_path, cli, one_line_error):
    rules = {f"part_{i:07d}": "chair" for i in range(80_000)}  # about 2 MiB
    labels = write_labels(tmp_path / "l.json", {"default": "otherprop", "labels": rules})
    one_line_error(cli(*import_args(unit_box(tmp_path), labels, tmp_path / "o.glb")), "l.json", "MiB", "limit")


@pytest.mark.parametrize(
    "suffix, text",
    [
        (".json", '{"labels": ' + "[" * 200_000 + "]" * 200_000 + "}"),
        (".yaml", "labels: " + "[" * 200_000 + "]" * 200_000 + "\n"),
    ],
)
def test_deeply_nested_label_map_is_refused(tmp_path, cli, one_line_error, suffix, text):
    labels = write_labels(tmp_path / f"l{suffix}", text)
    one_line_error(cli(*import_args(unit_box(tmp_path), labels, tmp_path / "o.glb")), f"l{suffix}")


# --- user meshes (cases 6 and 9) --------------------------------------------------------------------


@pytest.mark.parametrize(
    "high, scale, fragment",
    [
        (1e6, "1", "spans"),  # a million metres across
        (1e30, "1", "spans"),
        (2.0, "1e6", "spans"),  # a 2-unit model at a scale of a million
        (10.0, "1e308", "infinity"),  # scaled past the largest float
    ],
)
def test_mesh_far_too_large_is_refused(tmp_path, cli, one_line_error, high, scale, fragment):
    mesh = write_obj(tmp_path / "big.obj", {"box": ((0.0, 0.0, 0.0), (high, 1.0, 1.0))})
    labels = write_labels(tmp_path / "l.json")
    one_line_error(cli(*import_args(mesh, labels, tmp_path / "o.glb", "--scale", scale)), "big.obj", fragment, "scale")
    one_line_error(
        cli(
            "scenes",
            "sample",
            "--add",
            str(mesh),
            "--labels",
            str(labels),
            "--scale",
            scale,
            "--out",
            str(tmp_path / "r.glb"),
        ),
        "big.obj",
        fragment,
    )
    assert not (tmp_path / "o.glb").exists() and not (tmp_path / "r.glb").exists()


def test_mesh_far_from_the_origin_is_refused(tmp_path, cli, one_line_error):
    mesh = write_obj(tmp_path / "far.obj", {"box": ((1e9, 1e9, 0.0), (1e9 + 1, 1e9 + 1, 1.0))})
    one_line_error(
        cli(*import_args(mesh, write_labels(tmp_path / "l.json"), tmp_path / "o.glb")),
        "far.obj",
        "from the file's origin",
    )


def test_mesh_header_declaring_a_billion_faces_is_refused(tmp_path, cli, one_line_error):
    ply = tmp_path / "lie.ply"
    ply.write_text(
        "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
        "element face 1000000000\nproperty list uchar int vertex_indices\nend_header\n"
        "0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"
    )
    one_line_error(
        cli(*import_args(ply, write_labels(tmp_path / "l.json"), tmp_path / "o.glb")),
        "lie.ply",
        "1,000,000,000 faces",
        "simplify",
    )


def _glb(header: dict) -> bytes:
    data = json.dumps(header).encode()
    data += b" " * (-len(data) % 4)
    return b"glTF" + struct.pack("<II", 2, 20 + len(data)) + struct.pack("<I", len(data)) + b"JSON" + data


def test_glb_declaring_gigabytes_of_vertices_is_refused(tmp_path, one_line_error):
    """300 bytes whose accessor declares 300 million vertices without data: the loader would allocate 3.4 GB."""
    glb = tmp_path / "bomb.glb"
    glb.write_bytes(
        _glb(
            {
                "asset": {"version": "2.0"},
                "scene": 0,
                "scenes": [{"nodes": [0]}],
                "nodes": [{"mesh": 0, "name": "box"}],
                "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "mode": 4}]}],
                "accessors": [{"componentType": 5126, "count": 300_000_000, "type": "VEC3"}],
                "bufferViews": [],
                "buffers": [],
            }
        )
    )
    result = run_bounded(*import_args(glb, write_labels(tmp_path / "l.json"), tmp_path / "o.glb"), memory_gib=3)
    one_line_error(result, "bomb.glb", "declared by its accessors")


def test_gltf_buffer_pointing_at_a_device_is_refused(tmp_path, one_line_error):
    gltf = tmp_path / "dev.gltf"
    gltf.write_text(
        json.dumps(
            {
                "asset": {"version": "2.0"},
                "scene": 0,
                "scenes": [{"nodes": [0]}],
                "nodes": [{"mesh": 0, "name": "box"}],
                "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
                "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"}],
                "bufferViews": [{"buffer": 0, "byteLength": 36}],
                "buffers": [{"byteLength": 36, "uri": "/dev/zero"}],
            }
        )
    )
    result = run_bounded(*import_args(gltf, write_labels(tmp_path / "l.json"), tmp_path / "o.glb"), memory_gib=3)
    one_line_error(result, "dev.gltf", "not a regular file")


def test_huge_mesh_file_is_refused_before_reading(tmp_path, cli, one_line_error):
    big = tmp_path / "huge.ply"
    with big.open("wb") as f:
        f.write(
            b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
            b"property float z\nend_header\n"
        )
        f.truncate(300 << 20)  # sparse: 300 MiB on paper, nothing on disk
    one_line_error(
        cli(*import_args(big, write_labels(tmp_path / "l.json"), tmp_path / "o.glb")), "huge.ply", "MiB", "limit"
    )


def test_archives_are_not_unpacked(tmp_path, cli, one_line_error):
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(unit_box(tmp_path), "model.obj")
    one_line_error(
        cli(*import_args(archive, write_labels(tmp_path / "l.json"), tmp_path / "o.glb")), "model.zip", "obj"
    )


# --- scene descriptions (cases 6 and 9) -------------------------------------------------------------


def test_deeply_nested_description_is_one_line(tmp_path, cli, one_line_error):
    desc = write_description(tmp_path / "deep.json", "[" * 200_000 + "]" * 200_000)
    one_line_error(preview(cli, desc, tmp_path), "deep.json", "too deeply")


def test_oversized_description_file_is_refused_before_reading(tmp_path, cli, one_line_error):
    desc = tmp_path / "big.json"
    with desc.open("wb") as f:
        f.truncate(40 << 20)  # sparse
    one_line_error(preview(cli, desc, tmp_path), "big.json", "MiB", "limit")


def _cup(**changes) -> dict:
    cup = {
        "name": "cup_0",
        "kind": "cup",
        "params": get_spec("cup").sample(np.random.default_rng(0)),
        "pose": [2.0, 1.5, 0.0, 0.0],
    }
    return {**cup, **changes}


@pytest.mark.parametrize(
    "room, objects, fragments",
    [
        # non-finite and absurd poses
        ({}, [_cup(pose=[float("nan"), 1.5, 0.0, 0.0])], ["'cup_0'", "'pose'", "finite"]),
        ({}, [_cup(pose=[1e300, 1.5, 0.0, 0.0])], ["'cup_0'", "'pose'", "outside the room"]),
        ({}, [_cup(pose=[2.0, 1.5, 0.0, float("inf")])], ["'cup_0'", "'pose'", "finite"]),
        # negative, huge, non-finite and unknown parameters
        ({}, [_cup(params={**_cup()["params"], "radius": -0.05})], ["'cup_0'", "'radius'", "between 0 and 20"]),
        ({}, [_cup(params={**_cup()["params"], "height": 1e9})], ["'cup_0'", "'height'", "between 0 and 20"]),
        ({}, [_cup(params={**_cup()["params"], "height": float("nan")})], ["'cup_0'", "'height'", "finite"]),
        (
            {},
            [_cup(params={**_cup()["params"], "colour": "red"})],
            ["'cup_0'", "unknown parameter", "'colour'", "radius"],
        ),
        ({}, [_cup(params={**_cup()["params"], "radius": "wide"})], ["'cup_0'", "'radius'", "must be a number"]),
        # counts and pitches that would build millions of triangles
        (
            {},
            [
                {
                    "name": "chair_0",
                    "kind": "chair",
                    "pose": [2.0, 1.5, 0.0, 0.0],
                    "params": {
                        **get_spec("chair").sample(np.random.default_rng(0)),
                        "back": "slats",
                        "n_slats": 100_000,
                    },
                }
            ],
            ["'chair_0'", "'n_slats'", "between 0 and 64"],
        ),
        (
            {},
            [
                {
                    "name": "curtain_0",
                    "kind": "curtain",
                    "pose": [2.0, 2.9, 0.2, 0.0],
                    "params": {"width": 1.5, "height": 2.0, "fold_pitch": 1e-4},
                }
            ],
            ["'curtain_0'", "'fold_pitch'", "between 0.02 and 20"],
        ),
        # params that contradict each other or divide by zero
        (
            {},
            [
                {
                    "name": "sofa_0",
                    "kind": "sofa",
                    "pose": [2.0, 1.5, 0.0, 0.0],
                    "params": {**get_spec("sofa").sample(np.random.default_rng(0)), "seat_height": 15.0},
                }
            ],
            ["'sofa_0'", "contradict"],
        ),
        (
            {},
            [
                {
                    "name": "sofa_0",
                    "kind": "sofa",
                    "pose": [2.0, 1.5, 0.0, 0.0],
                    "params": {**get_spec("sofa").sample(np.random.default_rng(0)), "n_seats": 0},
                }
            ],
            ["'sofa_0'", "cannot be built", "ZeroDivisionError"],
        ),
        # the room: a 2 km floor plan, a bow tie, NaN / huge / negative heights, bad keep-clear boxes
        ({"polygon": [[0, 0], [2000, 0], [2000, 2000], [0, 2000]]}, [], ["'polygon'", "within [0, 100]"]),
        ({"polygon": [[0, 0], [4, 3], [4, 0], [0, 3]]}, [], ["'polygon'", "intersects itself"]),
        ({"polygon": [[0, 0], [0, 3], [4, 3], [4, 0]]}, [], ["'polygon'", "counter-clockwise"]),
        ({"polygon": [[0, 0], [4, float("nan")], [4, 3]]}, [], ["'polygon'", "finite"]),
        ({"height": float("nan")}, [], ["'height'", "finite"]),
        ({"height": 1e9}, [], ["'height'", "at most 20"]),
        ({"height": -2.5}, [], ["'height'", "above 0"]),
        ({"colour": "blue"}, [], ["'room'", "unknown key", "'colour'"]),
    ],
)
def test_bad_descriptions_are_one_line_naming_the_field(tmp_path, cli, one_line_error, room, objects, fragments):
    desc = write_description(tmp_path / "bad.json", description(objects, **room))
    one_line_error(preview(cli, desc, tmp_path), "scene description", *fragments)


def test_bad_keep_clear_and_imported_params(tmp_path, cli, one_line_error):
    data = description()
    data["keep_clear"] = [[0, 0, float("inf"), 1]]
    one_line_error(preview(cli, write_description(tmp_path / "k.json", data), tmp_path), "'keep_clear'", "finite")
    mesh, labels = unit_box(tmp_path), write_labels(tmp_path / "l.json")
    imported = {
        "name": "imported_0",
        "kind": "imported",
        "pose": [2.0, 1.5, 0.0, 0.0],
        "params": {"path": str(mesh), "label_map": str(labels), "up": "z", "scale": 1.0, "run": "rm -rf ~"},
    }
    one_line_error(
        preview(cli, write_description(tmp_path / "i.json", description([imported])), tmp_path),
        "'imported_0'",
        "unknown key",
        "'run'",
    )


def test_too_many_objects_are_refused_up_front(tmp_path, cli, one_line_error):
    cups = [_cup(name=f"cup_{i}") for i in range(10_001)]
    desc = write_description(tmp_path / "many.json", description(cups))
    t0 = time.monotonic()
    one_line_error(preview(cli, desc, tmp_path), "10001 objects", "limit of 10000")
    assert time.monotonic() - t0 < 5


def test_generate_checks_the_scene_before_any_work(tmp_path, cli, one_line_error):
    desc = write_description(tmp_path / "bowtie.json", description(polygon=[[0, 0], [4, 3], [4, 0], [0, 3]]))
    out = tmp_path / "out"
    result = cli(
        "generate",
        "--scene",
        str(desc),
        "--rooms",
        "1",
        "--frames-per-room",
        "1",
        "--resolution",
        "64x48",
        "--renderer",
        "raycast",
        "--out",
        str(out),
    )
    one_line_error(result, "intersects itself")
    assert not out.exists() or not any(out.glob("room_*"))


def test_generated_rooms_pass_the_checks_and_build_the_same(tmp_path, cli):
    """The checks accept every room the generator writes (all six types), and checking changes nothing."""
    from scene_library import ROOM_TYPES, build_scene, generate_room, load_description
    from scene_library.objects import OBJECTS
    from scene_library.objects.params import check_params
    from scene_library.validation import check_description

    for kind, spec in OBJECTS.items():
        for seed in range(20):
            check_params(kind, spec.sample(np.random.default_rng(seed)), kind)
    for room_type in ROOM_TYPES:
        scene = generate_room(np.random.default_rng(1), room_type)
        check_description(json.loads(json.dumps(scene.description)))
    result = cli("scenes", "sample", "--type", "office", "--seed", "3", "--out", str(tmp_path / "o.glb"))
    assert result.exit_code == 0, result.output
    again = build_scene(load_description(tmp_path / "o.json"))
    same = generate_room(np.random.default_rng(3), "office")
    assert [o.name for o in again.objects] == [o.name for o in same.objects]
    assert all(np.array_equal(a.mesh.vertices, b.mesh.vertices) for a, b in zip(again.objects, same.objects))


# --- found in review: more label maps and meshes ------------------------------------------------------


def test_label_map_whose_regex_rules_expand_too_much_together_is_refused(tmp_path, cli, one_line_error):
    """Each rule is under the per-rule size, but compiled together they would hold about 14 MB each."""
    rules = {f"re:[a-z]{{{99_999 - i}}}": "chair" for i in range(3)}
    labels = write_labels(tmp_path / "l.json", {"default": "otherprop", "labels": rules})
    one_line_error(
        cli(*import_args(unit_box(tmp_path), labels, tmp_path / "o.glb")),
        "l.json",
        "repeat too much together",
        "250,000",
    )


def test_mesh_names_with_long_digit_runs_or_digit_signs_import(tmp_path, cli):
    """Names are sorted with their digit runs as numbers: a 5,000-digit run or a superscript two is no crash."""
    mesh = write_obj(
        tmp_path / "m.obj",
        {"1" * 5000: ((0, 0, 0), (1, 1, 1)), "\u00b2": ((2, 0, 0), (3, 1, 1)), "box": ((4, 0, 0), (5, 1, 1))},
    )
    result = cli(*import_args(mesh, write_labels(tmp_path / "l.json"), tmp_path / "o.glb"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o.glb").is_file()


def write_gltf_triangle(path: Path, nodes: list[dict], roots: list[int]) -> Path:
    """A .gltf file whose ``nodes`` (the ``roots`` in its scene) draw mesh 0, one embedded triangle."""
    triangle = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    path.write_text(
        json.dumps(
            {
                "asset": {"version": "2.0"},
                "scene": 0,
                "scenes": [{"nodes": roots}],
                "nodes": nodes,
                "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
                "accessors": [
                    {
                        "bufferView": 0,
                        "componentType": 5126,
                        "count": 3,
                        "type": "VEC3",
                        "min": [0, 0, 0],
                        "max": [1, 1, 0],
                    }
                ],
                "bufferViews": [{"buffer": 0, "byteLength": 36}],
                "buffers": [
                    {
                        "byteLength": 36,
                        "uri": "data:application/octet-stream;base64," + base64.b64encode(triangle).decode(),
                    }
                ],
            }
        )
    )
    return path


def test_long_gltf_node_names_cost_no_regex_compiling(tmp_path, cli):
    """Eight parent nodes named with a million characters each: their names were compiled into regexes
    (about 1.5 s per name)."""
    nodes = []
    for i in range(8):
        nodes += [{"name": f"{i}_" + "p" * 1_000_000, "children": [2 * i + 1]}, {"name": f"box_{i}", "mesh": 0}]
    gltf = write_gltf_triangle(tmp_path / "long.gltf", nodes, list(range(0, 16, 2)))
    t0 = time.monotonic()
    result = cli(*import_args(gltf, write_labels(tmp_path / "l.json"), tmp_path / "o.glb"))
    assert result.exit_code == 0, result.output
    assert time.monotonic() - t0 < 4


def test_unreadable_mesh_file_is_one_line(tmp_path, cli, one_line_error, monkeypatch):
    """A mesh file the user may not read (simulated: the suite may run as root, who reads everything)."""
    mesh = unit_box(tmp_path)
    real_open = Path.open

    def refuse(self, *args, **kwargs):
        if self.name == mesh.name:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    one_line_error(
        cli(*import_args(mesh, write_labels(tmp_path / "l.json"), tmp_path / "o.glb")),
        "model.obj",
        "Permission denied",
        "may read",
    )


@pytest.mark.parametrize("name", ["model.obj.gz", "model.tar.gz", "model.7z"])
def test_compressed_mesh_files_are_named_archives(tmp_path, cli, one_line_error, name):
    packed = tmp_path / name
    packed.write_bytes(b"\x1f\x8b\x08\x00" + bytes(60))
    one_line_error(
        cli(*import_args(packed, write_labels(tmp_path / "l.json"), tmp_path / "o.glb")), name, "archive", "unpack it"
    )


def test_many_unlabelled_names_are_listed_in_a_short_line(tmp_path, cli, one_line_error):
    parts = {f"part_{i:02d}": ((float(i), 0.0, 0.0), (i + 0.5, 1.0, 1.0)) for i in range(30)}
    mesh = write_obj(tmp_path / "m.obj", parts)
    labels = write_labels(tmp_path / "l.json", {"labels": {"box": "box"}})
    line = one_line_error(cli(*import_args(mesh, labels, tmp_path / "o.glb")), "'part_00'", "'part_19'", "and 10 more")
    assert "part_20" not in line


def test_gltf_node_with_a_nan_transform_is_named_corrupt(tmp_path, cli, one_line_error):
    gltf = write_gltf_triangle(tmp_path / "nan.gltf", [{"name": "box", "mesh": 0, "matrix": [float("nan")] * 16}], [0])
    one_line_error(
        cli(*import_args(gltf, write_labels(tmp_path / "l.json"), tmp_path / "o.glb")),
        "nan.gltf",
        "NaN",
        "node transform in the file is corrupt",
    )
