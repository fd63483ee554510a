"""Checks on a user mesh file before and after loading it (used by :mod:`scene_library.importer`).

This module owns the import limits of :mod:`scene_library.limits` for mesh files. Before loading
(:func:`check_mesh_file`): a file of at most ``MAX_MESH_FILE_BYTES``; at most ``MAX_MESH_TRIANGLES``
triangles and ``MAX_MESH_PARTS`` named parts, read from the header where the format has one (PLY, OFF,
binary STL, glTF/GLB, whose declared array sizes are also bounded; OBJ face lines are counted); the files
a glTF refers to must be regular files (not devices or pipes). Which suffixes are read
(:func:`mesh_file_type`): those trimesh loads as triangle meshes; archives and compressed files (zip, tar,
gz) are not read: unpack them first. After loading, in the
project frame (metres): finite vertices and faces that index existing vertices (:func:`check_geometry`);
triangles and parts counted again as loaded (:func:`too_many` words the message); after ``up`` and
``scale`` the model spans at most ``MAX_MESH_EXTENT`` in x and y and ``MAX_MESH_HEIGHT`` in z, with
coordinates within ``MAX_MESH_COORDINATE`` (:func:`check_extent`).
"""

from __future__ import annotations

import json
import stat
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from scene_library.errors import SceneError
from scene_library.limits import (
    MAX_MESH_COORDINATE,
    MAX_MESH_EXTENT,
    MAX_MESH_FILE_BYTES,
    MAX_MESH_HEIGHT,
    MAX_MESH_PARTS,
    MAX_MESH_TRIANGLES,
    MIB,
)

__all__ = ["check_extent", "check_geometry", "check_mesh_file", "mesh_file_type", "too_many"]

# Suffixes trimesh lists as loadable that never hold triangle meshes, and archives (their unpacked size is
# unknown until unpacked: unpack them first).
_NOT_MESH_FORMATS = {"dxf", "svg", "xyz", "stl_ascii", "zip", "bz2", "tar.bz2", "tar.gz", "tar.xz", "gz", "xz"}
#: Suffixes of archives and compressed files, named as such in the message that refuses them.
_ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".tar", ".7z", ".rar")


def mesh_file_type(path: Path) -> str:
    """trimesh file type from the (possibly compound) suffix; SceneError listing readable formats."""
    formats = set(trimesh.available_formats()) - _NOT_MESH_FORMATS
    name = path.name.lower()
    matches = [f for f in formats if name.endswith("." + f)]
    if not matches and name.endswith(_ARCHIVE_SUFFIXES):
        raise SceneError(
            f"{path} is an archive or compressed file, which is not read; unpack it and import the mesh "
            f"file inside ({', '.join(sorted(formats))})."
        )
    if not matches:
        raise SceneError(f"{path} has no mesh-file suffix trimesh can read; use one of: {', '.join(sorted(formats))}.")
    return max(matches, key=len)


def check_mesh_file(path: Path, file_type: str) -> None:
    """The limits that can be read before loading: file size, and the counts a header declares. SceneError
    when one is broken or the file cannot be read."""
    try:
        _check_limits(path, file_type)
    except OSError as e:
        raise SceneError(f"cannot read {path} ({e.strerror or e}); check that it is a file you may read.") from None


def _check_limits(path: Path, file_type: str) -> None:
    """:func:`check_mesh_file` without turning OSError into SceneError."""
    size = path.stat().st_size
    if size > MAX_MESH_FILE_BYTES:
        raise SceneError(
            f"{path} is {size / MIB:.0f} MiB, larger than the import limit of {MAX_MESH_FILE_BYTES // MIB} MiB; "
            "simplify or split the model."
        )
    check = {
        "glb": _check_gltf_header,
        "gltf": _check_gltf_header,
        "ply": _check_ply_header,
        "off": _check_off_header,
        "stl": _check_stl_header,
        "obj": _check_obj_counts,
    }.get(file_type)
    if check is not None:
        check(path, size)


def _declared(path: Path, what: str, count: Any, limit: int) -> int:
    """A count declared in a file header, checked against ``limit``; malformed counts are left to the loader (0)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        return 0
    if count > limit:
        raise too_many(path, f"{count:,} {what} (declared in its header)")
    return count


def _check_ply_header(path: Path, size: int) -> None:
    """Vertex and face counts of a PLY header."""
    with path.open("rb") as f:
        header = f.read(65536)
    end = header.find(b"end_header")
    for line in header[: end if end >= 0 else len(header)].splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == b"element" and words[1] in (b"vertex", b"face") and words[2].isdigit():
            name = "faces" if words[1] == b"face" else "vertices"
            _declared(path, name, int(words[2]), MAX_MESH_TRIANGLES if name == "faces" else 3 * MAX_MESH_TRIANGLES)


def _check_off_header(path: Path, size: int) -> None:
    """Vertex and face counts of an OFF header (the first line of numbers after ``OFF``)."""
    with path.open("rb") as f:
        head = f.read(4096)
    for line in head.replace(b"OFF", b"", 1).splitlines():
        words = line.split(b"#")[0].split()
        if words:
            if len(words) >= 2 and words[0].isdigit() and words[1].isdigit():
                _declared(path, "vertices", int(words[0]), 3 * MAX_MESH_TRIANGLES)
                _declared(path, "faces", int(words[1]), MAX_MESH_TRIANGLES)
            return


def _check_stl_header(path: Path, size: int) -> None:
    """Triangle count of a binary STL (80-byte header, then a uint32 count)."""
    if size < 84:
        return
    with path.open("rb") as f:
        head = f.read(84)
    count = struct.unpack("<I", head[80:84])[0]
    if 84 + 50 * count == size:  # a binary STL (an ASCII one is bounded by its size)
        _declared(path, "triangles", count, MAX_MESH_TRIANGLES)


def _check_obj_counts(path: Path, size: int) -> None:
    """Face and object lines of an OBJ file, counted in one pass over its bytes."""
    faces = objects = groups = 0
    with path.open("rb") as f:
        previous = b"\n"
        while chunk := f.read(8 * MIB):
            text = previous + chunk
            faces += text.count(b"\nf ") + text.count(b"\nf\t")
            objects += text.count(b"\no ") + text.count(b"\no\t")
            groups += text.count(b"\ng ") + text.count(b"\ng\t")
            previous = chunk[-1:]
    _declared(path, "faces", faces, MAX_MESH_TRIANGLES)
    _declared(path, "objects" if objects else "groups", objects or groups, MAX_MESH_PARTS)  # split by o, else by g


#: glTF accessor component sizes (bytes) by componentType, and components by type.
_GLTF_COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
_GLTF_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}


def _check_gltf_header(path: Path, size: int) -> None:
    """The JSON of a glTF/GLB file: node count, the triangles its nodes draw, the bytes its accessors
    declare (the loader allocates them, even without data behind them), and the files it refers to."""
    header = _gltf_json(path)
    if not isinstance(header, dict):
        return  # not glTF: the loader reports it
    nodes, accessors, meshes = (
        _json_list(header, "nodes"),
        _json_list(header, "accessors"),
        _json_list(header, "meshes"),
    )
    _declared(path, "nodes", len(nodes), 10 * MAX_MESH_PARTS)
    declared = 0
    for a in accessors:
        if isinstance(a, dict) and isinstance(a.get("count"), int) and a["count"] >= 0:
            component, kind = a.get("componentType"), a.get("type")
            item = (_GLTF_COMPONENT_BYTES.get(component, 4) if isinstance(component, int) else 4) * (
                _GLTF_COMPONENTS.get(kind, 16) if isinstance(kind, str) else 16
            )
            sparse = _json_dict(a, "sparse")
            declared += a["count"] * item + (sparse.get("count", 0) if isinstance(sparse.get("count"), int) else 0) * 8
    if declared > 2 * MAX_MESH_FILE_BYTES:
        raise too_many(path, f"arrays of {declared / MIB:,.0f} MiB (declared by its accessors)")
    per_mesh = [_gltf_mesh_triangles(m, accessors) for m in meshes]
    triangles = sum(
        per_mesh[n["mesh"]]
        for n in nodes
        if isinstance(n, dict) and isinstance(n.get("mesh"), int) and 0 <= n["mesh"] < len(per_mesh)
    )
    _declared(path, "triangles", triangles, MAX_MESH_TRIANGLES)
    _check_gltf_uris(path, header, size)


def _json_list(obj: dict, key: str) -> list:
    """``obj[key]`` when it is a JSON array, else an empty list."""
    value = obj.get(key)
    return value if isinstance(value, list) else []


def _json_dict(obj: dict, key: str) -> dict:
    """``obj[key]`` when it is a JSON object, else an empty dict."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _gltf_json(path: Path) -> Any:
    """The parsed JSON part of a .gltf or .glb file, or None when it cannot be read (the loader reports it)."""
    with path.open("rb") as f:
        head = f.read(20)
        if head[:4] == b"glTF":
            if len(head) < 20 or head[16:20] != b"JSON":
                return None
            length = struct.unpack("<I", head[12:16])[0]
            data = f.read(min(length, MAX_MESH_FILE_BYTES))
        else:
            data = head + f.read(MAX_MESH_FILE_BYTES)
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None


def _gltf_mesh_triangles(mesh: Any, accessors: list) -> int:
    """Triangles a glTF mesh declares: index (or vertex) counts of its triangle primitives."""
    total = 0
    primitives = mesh.get("primitives") if isinstance(mesh, dict) else None
    for prim in primitives if isinstance(primitives, list) else []:
        if not isinstance(prim, dict) or prim.get("mode", 4) not in (4, 5, 6):
            continue  # points and lines draw no triangles
        attributes = _json_dict(prim, "attributes")
        source = prim.get("indices", attributes.get("POSITION"))
        if isinstance(source, int) and 0 <= source < len(accessors) and isinstance(accessors[source], dict):
            count = accessors[source].get("count")
            if isinstance(count, int) and count > 0:
                total += count // 3 if prim.get("mode", 4) == 4 else max(count - 2, 0)
    return total


def _check_gltf_uris(path: Path, header: dict, size: int) -> None:
    """Buffers and images named by URI that exist must be regular files (not devices or pipes, which never
    end); with the file itself they hold at most ``MAX_MESH_FILE_BYTES``. Missing ones are left to the loader."""
    from urllib.parse import unquote

    total = size
    for key in ("buffers", "images"):
        for entry in _json_list(header, key):
            uri = entry.get("uri") if isinstance(entry, dict) else None
            if not isinstance(uri, str) or uri.startswith("data:") or "://" in uri:
                continue  # embedded, or remote (never fetched)
            try:
                info = (path.parent / unquote(uri)).stat()
            except (OSError, ValueError):
                continue
            if not stat.S_ISREG(info.st_mode):
                raise SceneError(
                    f"{path} refers to {uri[:80]!r}, which is not a regular file (glTF {key} must be "
                    "embedded or files); re-export the model as .glb."
                )
            total += info.st_size
            if total > MAX_MESH_FILE_BYTES:
                raise SceneError(
                    f"{path} and the files it refers to hold more than {MAX_MESH_FILE_BYTES // MIB} MiB, "
                    "the import limit; simplify or split the model."
                )


def too_many(path: Path, what: str) -> SceneError:
    return SceneError(
        f"{path} has {what}, over the import limit; simplify or split the model (e.g. decimate it "
        "in your modelling tool)."
    )


def check_extent(meshes: Sequence[trimesh.Trimesh], path: Path, up: str, scale: float) -> None:
    """SceneError unless the loaded model (project frame, metres) is finite, spans at most
    ``MAX_MESH_EXTENT`` in x and y and ``MAX_MESH_HEIGHT`` in z, and lies within ``MAX_MESH_COORDINATE``."""
    lo = np.min([m.vertices.min(axis=0) for m in meshes], axis=0)
    hi = np.max([m.vertices.max(axis=0) for m in meshes], axis=0)
    units = "check the units (scale 0.01 for cm, 0.001 for mm, 0.0254 for inches) and the up axis"
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise SceneError(
            f"{path}: the model's coordinates are not finite (infinity or NaN) at scale {scale:g}: the "
            f"scale is far too large or a node transform in the file is corrupt; {units}, or re-export it."
        )
    span = hi - lo
    if span[0] > MAX_MESH_EXTENT or span[1] > MAX_MESH_EXTENT or span[2] > MAX_MESH_HEIGHT:
        raise SceneError(
            f"{path}: the model spans {span[0]:.4g} x {span[1]:.4g} x {span[2]:.4g} m at scale {scale:g}, "
            f"up {up!r}; a model must fit in {MAX_MESH_EXTENT:g} x {MAX_MESH_EXTENT:g} x "
            f"{MAX_MESH_HEIGHT:g} m -- {units}; split a larger model (a whole building) into rooms."
        )
    far = float(max(np.abs(lo).max(), np.abs(hi).max()))
    if far > MAX_MESH_COORDINATE:
        raise SceneError(
            f"{path}: the model lies {far:.4g} m from the file's origin at scale {scale:g}, beyond "
            f"{MAX_MESH_COORDINATE:g} m; move it near the origin in your modelling tool."
        )


def check_geometry(mesh: trimesh.Trimesh, path: Path, name: str) -> None:
    """SceneError for corrupt geometry: non-finite coordinates or faces indexing missing vertices."""
    vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    if not np.isfinite(vertices).all():
        raise SceneError(
            f"{path}: mesh {name!r} has NaN or infinite vertex coordinates; repair or re-export the model."
        )
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise SceneError(
            f"{path}: mesh {name!r} has faces that reference missing vertices (corrupt file); re-export the model."
        )
