"""Mesh import with label maps: bring user meshes (OBJ, PLY, glTF/GLB, STL, OFF, ...) into the project.

Two entry points share one loader:

* :func:`import_scene` turns a whole file into a labelled :class:`~scene_library.scene.Scene`
  (one :class:`~scene_library.scene.SceneObject` per mesh node, floor at z = 0);
* :func:`import_piece` turns a file into a :class:`~scene_library.objects.base.Piece` obeying the
  local-frame contract, so a user model can be placed in a procedural room.

Class labels come from a *label map* (:func:`load_label_map`), a small YAML or JSON file::

    # chairs.yaml
    default: otherprop          # NYU40 class for names that no rule matches (optional)
    labels:
      Chair_01: chair           # exact mesh/node name (case-sensitive)
      "re:^table_.*": table     # regular expression after the prefix "re:", matched with re.fullmatch
      sofa_frame: sofa

The same file as JSON: ``{"default": "otherprop", "labels": {"Chair_01": "chair", "re:^table_.*": "table"}}``.

Rules:

* ``labels`` (required, may be empty) maps a mesh name to an NYU40 class *name* (spaces or
  underscores, any case: ``"night stand"``, ``"Night_Stand"``). Numeric ids are not accepted.
* A key starting with ``re:`` is a Python regular expression matched against the *whole* name
  (``re.fullmatch``): ``"re:table"`` matches only ``"table"``; write ``"re:table.*"`` for a prefix or
  ``"re:(?i).*chair.*"`` for a case-insensitive substring. Every other key is an exact name.
  Matching uses the ``regex`` package (the same syntax) with a time limit, so a pattern that backtracks
  without end (``(a|a)+$``) is refused naming the rule instead of hanging: each match may take
  ``REGEX_TIMEOUT_S`` and all matches of one file ``LABELING_TIMEOUT_S`` (:mod:`scene_library.limits`).
  A pattern has at most ``MAX_REGEX_CHARS`` characters and its counted repeats at most
  ``MAX_REGEX_SIZE`` expanded (``(ab){3}`` counts 6).
* Resolution order: an exact name wins; otherwise the first regex in file order that matches;
  otherwise ``default``. Without ``default`` an unmatched name is an error.
* Only ``default`` and ``labels`` are allowed at the top level; duplicate keys are an error.
* The file has at most ``MAX_LABEL_MAP_BYTES``; YAML aliases (``*name``) are refused (a few hundred bytes
  of nested aliases expand to gigabytes), so write every rule out.

Which name is matched (the *mesh name*), per format, as read by trimesh 5.2:

* glTF/GLB: the node name. A node without a name (trimesh calls it by its index, ``"3"``) falls back
  to its mesh name (trimesh's placeholders ``"GLTF"``, ``"GLTF_1"``, ... when the mesh is unnamed
  too). A mesh with several primitives (one per material) is one object: trimesh gives each
  primitive a child frame with a *random* suffix, which is folded back into its node here, so names
  and instance ids stay deterministic.
* OBJ: the ``o`` object name; files without ``o`` lines use ``g`` group names. Faces of one object
  with several ``usemtl`` materials stay one object. (trimesh's default would merge every object of
  the file into one mesh.) trimesh's own OBJ export writes *geometry* names, not node names.
* PLY, OFF, binary STL, and OBJ without ``o``/``g``: one mesh per file (PLY has no object names; a
  scene exported to PLY is concatenated), named after the file stem (``chair.ply`` -> ``"chair"``).
  ASCII STL with several ``solid <name>`` blocks gives one object per solid, named after it.

Frames and units: the project world is right-handed, z up, metres, floor at z = 0. ``up="y"``
converts a y-up file (glTF is y-up by specification; so are many OBJ exports) by a +90 degree
rotation about x, ``(x, y, z) -> (x, -z, y)``; a glTF model's front (+z) then faces -y, the front
of the :class:`Piece` contract. ``scale`` multiplies coordinates after the rotation (0.01 for
centimetres, 0.0254 for inches). Each node's world transform is applied first.

Limits (:mod:`scene_library.limits`), checked before and while loading: a file of at most
``MAX_MESH_FILE_BYTES``; at most ``MAX_MESH_TRIANGLES`` triangles and ``MAX_MESH_PARTS`` named parts, read
from the header where the format has one (PLY, OFF, binary STL, glTF/GLB, whose declared array sizes are
also bounded; OBJ face lines are counted) and counted again as loaded; glTF files may refer only to
regular files beside them; after ``up`` and ``scale`` the model spans at most ``MAX_MESH_EXTENT`` in x and
y and ``MAX_MESH_HEIGHT`` in z, with coordinates within ``MAX_MESH_COORDINATE``. Archives (zip, tar) are
not read: unpack them first.
"""

from __future__ import annotations

import json
import os
import re
import stat
import struct
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import trimesh

from scene_library.errors import SceneError
from scene_library.labels import class40_id, class40_names
from scene_library.limits import (LABELING_TIMEOUT_S, MAX_LABEL_MAP_BYTES, MAX_MESH_COORDINATE, MAX_MESH_EXTENT,
                                  MAX_MESH_FILE_BYTES, MAX_MESH_HEIGHT, MAX_MESH_PARTS, MAX_MESH_TRIANGLES,
                                  MAX_REGEX_CHARS, MAX_REGEX_SIZE, MIB, REGEX_TIMEOUT_S)
from scene_library.objects.base import Part, Piece
from scene_library.scene import Room, Scene, SceneObject

__all__ = ["LabelMap", "UnlabelledMeshWarning", "import_piece", "import_scene", "load_label_map"]

PathLike = str | os.PathLike
UpAxis = Literal["z", "y"]

REGEX_PREFIX = "re:"
LABEL_MAP_SUFFIXES = (".yaml", ".yml", ".json")
_TOP_LEVEL_KEYS = ("default", "labels")
# Suffixes trimesh lists as loadable that never hold triangle meshes, and archives (their unpacked size is
# unknown until unpacked: unpack them first).
_NOT_MESH_FORMATS = {"dxf", "svg", "xyz", "stl_ascii", "zip", "bz2", "tar.bz2", "tar.gz", "tar.xz", "gz", "xz"}


class UnlabelledMeshWarning(UserWarning):
    """Some mesh names matched no label rule and received the label map's default class."""


# --------------------------------------------------------------------------------------------------
# Label maps
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelMap:
    """Mesh-name -> NYU40 class id rules (see the module docstring for the file format).

    exact : ``(name, class40)`` pairs for exact, case-sensitive names.
    patterns : ``(regex, class40)`` pairs, regex without the ``re:`` prefix, in priority order;
        each is matched like :func:`re.fullmatch`, within ``REGEX_TIMEOUT_S`` (module docstring).
    default : class id for names no rule matches, or None (then such names are an error).
    source : where the rules came from (a file path), used in error messages.
    Class ids are NYU40 ids, 1..40.
    """

    exact: tuple[tuple[str, int], ...] = ()
    patterns: tuple[tuple[str, int], ...] = ()
    default: int | None = None
    source: str = field(default="<label map>", compare=False)
    _exact_index: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)
    _compiled: tuple[tuple[Any, int], ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        for name, cid in (*self.exact, *self.patterns, *([("default", self.default)] if self.default is not None else [])):
            _check_class_id(cid, name, self.source)
        index: dict[str, int] = {}
        for name, cid in self.exact:
            if name in index:
                raise SceneError(f"{self.source}: the name {name!r} has two label rules; keep only one.")
            index[name] = cid
        compiled = tuple((_compile_rule(pattern, self.source), cid) for pattern, cid in self.patterns)
        object.__setattr__(self, "_exact_index", index)
        object.__setattr__(self, "_compiled", compiled)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<label map>") -> LabelMap:
        """Build from parsed file content ``{"default": name, "labels": {key: name}}`` (class *names*)."""
        labels, default_name = _split_top_level(data, source)
        exact: list[tuple[str, int]] = []
        patterns: list[tuple[str, int]] = []
        for key, class_name in labels.items():
            cid = _class_from_rule(key, class_name, source)
            if key.startswith(REGEX_PREFIX):
                patterns.append((key[len(REGEX_PREFIX):], cid))
            else:
                exact.append((key, cid))
        default = None if default_name is None else _class_from_rule("default", default_name, source)
        return cls(exact=tuple(exact), patterns=tuple(patterns), default=default, source=source)

    def rule_class(self, name: str, deadline: float | None = None) -> int | None:
        """Class id from the first matching rule (exact name, then regexes in order); None if none matches.

        Each regex match may take ``REGEX_TIMEOUT_S``; ``deadline`` (a :func:`time.monotonic` time) bounds
        all of them. SceneError naming the rule when a match runs out of time.
        """
        if name in self._exact_index:
            return self._exact_index[name]
        for pattern, cid in self._compiled:
            budget = REGEX_TIMEOUT_S if deadline is None else min(REGEX_TIMEOUT_S, deadline - time.monotonic())
            if budget <= 0:
                raise _labeling_timeout(self.source)
            try:
                if pattern.fullmatch(name, timeout=budget):
                    return cid
            except TimeoutError:
                if budget < REGEX_TIMEOUT_S:
                    raise _labeling_timeout(self.source) from None
                shown = name if len(name) <= 60 else name[:57] + "..."
                raise SceneError(
                    f"label map {self.source}: the rule 're:{pattern.pattern}' takes over {REGEX_TIMEOUT_S:g} s to match "
                    f"the mesh name {shown!r}; simplify the pattern (avoid nested or overlapping repeats such as "
                    "(a+)+ or (a|a)+)."
                ) from None
        return None

    def class_of(self, name: str) -> int:
        """Class id of ``name``: its rule, else the default; SceneError when neither exists."""
        ids, _ = self.classify([name])
        return ids[0]

    def classify(self, names: Sequence[str]) -> tuple[list[int], list[str]]:
        """Class ids for ``names`` (same order) and the sorted distinct names that fell back to the default.

        Raises SceneError listing every unmatched name when there is no default.
        """
        deadline = time.monotonic() + LABELING_TIMEOUT_S
        found = [self.rule_class(n, deadline) for n in names]
        unmatched = sorted({n for n, cid in zip(names, found) if cid is None})
        if unmatched and self.default is None:
            raise SceneError(
                f"no label rule in {self.source} matches the mesh name(s) {', '.join(map(repr, unmatched))}; "
                "add rules for them or a 'default:' class to the label map."
            )
        return [self.default if cid is None else cid for cid in found], unmatched


def load_label_map(path: PathLike) -> LabelMap:
    """Read a label map from a ``.yaml``/``.yml`` or ``.json`` file (format: module docstring).

    Raises SceneError for a missing file, a wrong suffix, unparseable content, a wrong structure,
    an unknown NYU40 class name (the message lists the valid ones) or an invalid regular expression.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in LABEL_MAP_SUFFIXES:
        raise SceneError(f"label map {path} must be a .yaml, .yml or .json file; rename or convert it.")
    if not path.is_file():
        raise SceneError(f"label map {path} does not exist; check the path.")
    size = path.stat().st_size
    if size > MAX_LABEL_MAP_BYTES:
        raise SceneError(f"label map {path} is {size / MIB:.1f} MiB, larger than the limit of "
                         f"{MAX_LABEL_MAP_BYTES // MIB} MiB; use 're:' rules instead of listing every name.")
    try:
        with path.open("rb") as f:
            text = f.read(MAX_LABEL_MAP_BYTES + 1).decode("utf-8")
    except OSError as e:
        raise SceneError(f"cannot read label map {path} ({e.strerror}); check its permissions.") from None
    except UnicodeDecodeError:
        raise SceneError(f"label map {path} is not UTF-8 text; save it as a plain UTF-8 YAML or JSON file.") from None
    data = _parse_json(text, path) if suffix == ".json" else _parse_yaml(text, path)
    return LabelMap.from_dict(data, source=str(path))


def _parse_json(text: str, path: Path) -> Any:
    """Parsed JSON, rejecting duplicate keys."""
    try:
        return json.loads(text, object_pairs_hook=lambda pairs: _no_duplicates(pairs, path))
    except json.JSONDecodeError as e:
        where = f"{e.msg} at line {e.lineno}, column {e.colno}"
        raise SceneError(f"label map {path} is not valid JSON ({where}); fix the syntax.") from None
    except SceneError:
        raise
    except RecursionError:
        raise SceneError(f"label map {path} nests lists or mappings too deeply; a label map is two levels deep.") from None
    except ValueError as e:  # e.g. an integer with thousands of digits
        raise SceneError(f"label map {path} is not valid JSON ({str(e)[:100]}); fix the syntax.") from None


def _parse_yaml(text: str, path: Path) -> Any:
    """Parsed YAML (safe loader), rejecting duplicate keys."""
    try:
        import yaml
    except ImportError:  # pragma: no cover - pyyaml is a declared dependency
        raise SceneError("reading YAML label maps needs PyYAML; run 'pip install pyyaml' or use a .json label map.") from None

    class _StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):  # refused before expanding: nested aliases grow exponentially
                mark = self.peek_event().start_mark
                raise SceneError(f"label map {path} uses a YAML alias at line {mark.line + 1}, column {mark.column + 1}; "
                                 "aliases (*name) are not allowed in label maps, write each rule out.")
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> dict:
            keys = [self.construct_object(k, deep=True) for k, _ in node.value]
            _no_duplicates([(k, None) for k in keys if isinstance(k, (str, int, float, bool))], path)
            return super().construct_mapping(node, deep=deep)

    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - SafeLoader subclass
    except RecursionError:
        raise SceneError(f"label map {path} nests lists or mappings too deeply; a label map is two levels deep.") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SceneError(f"label map {path} is not valid YAML ({problem}{where}); fix the syntax.") from None


def _no_duplicates(pairs: list[tuple[Any, Any]], path: Path) -> dict:
    """A dict from key/value pairs; SceneError on a repeated key (a later rule would silently win)."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise SceneError(f"label map {path} lists the key {key!r} twice; keep only one entry.")
        out[key] = value
    return out


def _split_top_level(data: Any, source: str) -> tuple[dict[str, Any], Any]:
    """(labels mapping, default class name or None) after checking the top-level structure."""
    example = "e.g. {'default': 'otherprop', 'labels': {'Chair_01': 'chair'}}"
    if not isinstance(data, Mapping):
        raise SceneError(f"label map {source} must be a mapping with 'labels' and optionally 'default', {example}.")
    extra = [k for k in data if k not in _TOP_LEVEL_KEYS]
    if extra:
        raise SceneError(f"label map {source} has unknown top-level key(s) {extra}; only 'default' and 'labels' are allowed.")
    if "labels" not in data:
        raise SceneError(f"label map {source} has no 'labels' mapping; add one, {example}.")
    labels = data["labels"] if data["labels"] is not None else {}
    if not isinstance(labels, Mapping):
        raise SceneError(f"label map {source}: 'labels' must map mesh names to class names, {example}.")
    for key in labels:
        if not isinstance(key, str):
            raise SceneError(f"label map {source}: the rule key {key!r} is not a string; quote it in the file (\"{key}\": ...).")
    return dict(labels), data.get("default")


def _class_from_rule(key: str, class_name: Any, source: str) -> int:
    """NYU40 id of a rule's class name; SceneError naming the rule (and listing valid names) otherwise."""
    if not isinstance(class_name, str):
        raise SceneError(f"label map {source}: {key!r} must name an NYU40 class as text (e.g. 'chair'), not {class_name!r}.")
    try:
        return class40_id(class_name)
    except SceneError as e:
        raise SceneError(f"label map {source}: rule {key!r}: {e}") from None


def _check_class_id(cid: Any, rule: str, source: str) -> None:
    """Internal check for LabelMaps built in code: class ids are ints 1..40."""
    n = len(class40_names()) - 1
    if isinstance(cid, bool) or not isinstance(cid, (int, np.integer)) or not 1 <= int(cid) <= n:
        raise SceneError(f"{source}: rule {rule!r} has class id {cid!r}; use an NYU40 id 1..{n} (see labels.class40_id).")


def _compile_rule(pattern: str, source: str) -> Any:
    """Compiled regex (a ``regex`` package pattern, matched with a timeout) of a ``re:`` rule; SceneError
    with the position of a syntax error, or naming the limit a pattern breaks."""
    import regex

    shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
    if len(pattern) > MAX_REGEX_CHARS:
        raise SceneError(f"label map {source}: the regular expression {shown!r} has {len(pattern)} characters, more "
                         f"than the limit of {MAX_REGEX_CHARS}; shorten it or use several rules.")
    try:
        re.compile(pattern)  # Python's syntax and messages
        size = _expanded_size(pattern)
    except re.error as e:
        raise SceneError(
            f"label map {source}: the regular expression {pattern!r} is invalid ({e}); "
            "fix the pattern (escape special characters with a backslash)."
        ) from None
    if size > MAX_REGEX_SIZE:
        raise SceneError(f"label map {source}: the regular expression {shown!r} repeats too much ({size:,} items once its "
                         f"counted repeats are expanded, limit {MAX_REGEX_SIZE:,}); use smaller {{n}} counts.")
    try:
        return regex.compile(pattern)
    except regex.error as e:
        raise SceneError(f"label map {source}: the regular expression {pattern!r} is not supported ({e}); "
                         "rewrite the pattern.") from None


def _expanded_size(pattern: str) -> int:
    """Number of items of ``pattern`` with every counted repeat ``{n}`` / ``{n,m}`` expanded (unbounded
    repeats count once): what compiling it may build. Raises re.error for a bad pattern."""
    try:
        from re import _parser as parser  # Python >= 3.11
    except ImportError:  # pragma: no cover - older Pythons
        import sre_parse as parser  # type: ignore[no-redef]

    return _tree_size(parser.parse(pattern), parser)


def _tree_size(tree: Any, parser: Any) -> int:
    """Expanded item count of a parsed (sub)pattern; see :func:`_expanded_size`."""
    total = 0
    for op, av in tree:
        if str(op) in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, hi, sub = av
            count = lo if hi == parser.MAXREPEAT else max(lo, hi)
            total += max(int(count), 1) * _tree_size(sub, parser)
        else:
            total += 1 + sum(_tree_size(sub, parser) for sub in _subpatterns(av, parser))
    return total


def _subpatterns(value: Any, parser: Any) -> list[Any]:
    """The parsed subpatterns held (directly or in tuples and lists) by an operator's argument."""
    if isinstance(value, parser.SubPattern):
        return [value]
    if isinstance(value, (tuple, list)):
        return [sub for item in value for sub in _subpatterns(item, parser)]
    return []


def _labeling_timeout(source: str) -> SceneError:
    return SceneError(f"matching the mesh names against the rules of label map {source} took over "
                      f"{LABELING_TIMEOUT_S:g} s; use fewer or simpler 're:' rules, or exact names.")


# --------------------------------------------------------------------------------------------------
# Loading meshes
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    """One object of a loaded file: matched name, source node key, mesh in the project frame (metres)."""

    name: str
    node: str
    mesh: trimesh.Trimesh


def import_scene(
    mesh_path: PathLike,
    label_map: LabelMap | PathLike,
    *,
    up: UpAxis = "z",
    scale: float = 1.0,
    room_type: str = "imported",
) -> tuple[Scene, list[str]]:
    """Load a mesh file as a labelled scene in the project frame.

    mesh_path : any format trimesh reads (OBJ, PLY, GLB/glTF, STL, OFF, ...).
    label_map : a :class:`LabelMap` or the path of a label-map file.
    up : the file's up axis, ``"z"`` (kept) or ``"y"`` (rotated to z up; use it for glTF/GLB).
    scale : metres per file unit (> 0).
    room_type : stored in the Room.

    Returns ``(scene, unmatched)``: one SceneObject per mesh node, named by its mesh name (see the
    module docstring), instance ids 1..N in natural order of (name, node) -- independent of loader
    internals; and the sorted distinct names that no rule matched (they got the default class and are
    also reported in one :class:`UnlabelledMeshWarning`).

    The whole model is translated so that its bounding-box minimum is the origin: the floor is
    z = 0 and the plan extent is ``[0, size_x] x [0, size_y]``. ``room.size`` is the bounding-box
    extent ``(size_x, size_y, height)`` of all meshes, metres; ``room.keep_clear`` is empty (0, 4)
    (nothing is known about walkways) and ``room.polygon`` is None (the full rectangle).
    """
    labels = _as_label_map(label_map)
    objects = _load_objects(mesh_path, up, scale)
    ids, unmatched = _classify(objects, labels, mesh_path)
    low = np.min([o.mesh.bounds[0] for o in objects], axis=0)
    scene_objects = []
    for i, (obj, cid) in enumerate(zip(objects, ids)):
        mesh = obj.mesh.copy()
        mesh.apply_translation(-low)
        scene_objects.append(SceneObject(mesh=mesh, class40=cid, instance_id=i + 1, name=obj.name))
    high = np.max([o.mesh.bounds[1] for o in scene_objects], axis=0)
    size = (float(high[0]), float(high[1]), float(high[2]))
    room = Room(room_type=room_type, size=size, keep_clear=np.zeros((0, 4)))
    return Scene(room=room, objects=tuple(scene_objects)), unmatched


def import_piece(
    mesh_path: PathLike,
    label_map: LabelMap | PathLike,
    *,
    kind: str = "imported",
    up: UpAxis = "z",
    scale: float = 1.0,
) -> Piece:
    """Load a mesh file as a :class:`Piece` for placing in procedural rooms.

    Same loading, naming and labelling as :func:`import_scene` (one Part per mesh node, in the same
    order). The result obeys the local-frame contract of :mod:`scene_library.objects.base`: the
    footprint is centred at the origin, the lowest vertex is at z = 0, ``width``/``depth``/``height``
    (metres) are the bounding-box extents and every vertex lies inside
    ``[-w/2, w/2] x [-d/2, d/2] x [0, h]``. The front is assumed to face -y (true for glTF models
    imported with ``up="y"``). ``params`` is ``{"path", "up", "scale"}``; rebuilding also needs the
    same label map. No support surfaces are detected.
    """
    labels = _as_label_map(label_map)
    objects = _load_objects(mesh_path, up, scale)
    ids, _ = _classify(objects, labels, mesh_path)
    vertices = np.concatenate([o.mesh.vertices for o in objects])
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    shift = np.array([-(low[0] + high[0]) / 2, -(low[1] + high[1]) / 2, -low[2]])
    parts = []
    for obj, cid in zip(objects, ids):
        mesh = obj.mesh.copy()
        mesh.apply_translation(shift)
        parts.append(Part(name=obj.name, class40=cid, mesh=mesh))
    local = np.concatenate([p.mesh.vertices for p in parts])
    # Half-widths from the shifted vertices themselves, so rounding can never put a vertex outside.
    width, depth = (2 * float(np.abs(local[:, k]).max()) for k in (0, 1))
    params = {"path": str(Path(mesh_path)), "up": up, "scale": scale}
    return Piece(kind=kind, params=params, parts=tuple(parts), width=width, depth=depth, height=float(local[:, 2].max()))


def _as_label_map(label_map: LabelMap | PathLike) -> LabelMap:
    """The given LabelMap, or one loaded from a file path."""
    return label_map if isinstance(label_map, LabelMap) else load_label_map(label_map)


def _classify(objects: list[_Loaded], labels: LabelMap, mesh_path: PathLike) -> tuple[list[int], list[str]]:
    """Class ids per object and the unmatched names; warns once listing all unmatched names."""
    names = [o.name for o in objects]
    try:
        ids, unmatched = labels.classify(names)
    except SceneError as e:
        raise SceneError(f"{mesh_path}: {e}") from None
    if unmatched:
        default_name = class40_names()[labels.default]
        warnings.warn(
            f"{len(unmatched)} mesh name(s) in {mesh_path} match no rule in {labels.source} and were labelled "
            f"{default_name!r} (the default): {', '.join(unmatched)}",
            UnlabelledMeshWarning,
            stacklevel=3,
        )
    return ids, unmatched


def _load_objects(mesh_path: PathLike, up: str, scale: float) -> list[_Loaded]:
    """All triangle meshes of a file, in the project frame (not yet moved to the floor), sorted by (name, node)."""
    path = Path(mesh_path)
    frame = _frame_matrix(up, scale)
    scene = _read_trimesh_scene(path)
    grouped: dict[str, list[tuple[str, str, trimesh.Trimesh]]] = {}
    triangles = 0
    for node in scene.graph.nodes_geometry:
        world, geom_name = scene.graph[node]
        geometry = scene.geometry.get(geom_name)
        if not isinstance(geometry, trimesh.Trimesh) or len(geometry.faces) == 0:
            continue  # points, lines, empty meshes: nothing to render
        triangles += len(geometry.faces)  # counted per node: one geometry may be instanced by many nodes
        if triangles > MAX_MESH_TRIANGLES:
            raise _too_many(path, f"more than {MAX_MESH_TRIANGLES:,} triangles")
        key, name = _node_name(scene.graph, node, geom_name, path)
        _check_geometry(geometry, path, name)
        grouped.setdefault(key, []).append((name, geom_name, _transformed(geometry, frame @ world)))
        if len(grouped) > MAX_MESH_PARTS:
            raise _too_many(path, f"more than {MAX_MESH_PARTS:,} named parts")
    if not grouped:
        raise SceneError(
            f"{path} contains no triangle faces (empty, only points or lines, or corrupt); "
            "export the model as a triangle mesh and try again."
        )
    objects = [_merge_node(key, members) for key, members in grouped.items()]
    _check_extent(objects, path, up, scale)
    return sorted(objects, key=lambda o: (_natural_key(o.name), _natural_key(o.node)))


def _too_many(path: Path, what: str) -> SceneError:
    return SceneError(f"{path} has {what}, over the import limit; simplify or split the model (e.g. decimate it "
                      "in your modelling tool).")


def _check_extent(objects: list[_Loaded], path: Path, up: str, scale: float) -> None:
    """SceneError unless the loaded model (project frame, metres) is finite, spans at most
    ``MAX_MESH_EXTENT`` in x and y and ``MAX_MESH_HEIGHT`` in z, and lies within ``MAX_MESH_COORDINATE``."""
    lo = np.min([o.mesh.vertices.min(axis=0) for o in objects], axis=0)
    hi = np.max([o.mesh.vertices.max(axis=0) for o in objects], axis=0)
    units = "check the units (scale 0.01 for cm, 0.001 for mm, 0.0254 for inches) and the up axis"
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise SceneError(f"{path}: the model's coordinates overflow to infinity at scale {scale:g}; {units}.")
    span = hi - lo
    if span[0] > MAX_MESH_EXTENT or span[1] > MAX_MESH_EXTENT or span[2] > MAX_MESH_HEIGHT:
        raise SceneError(f"{path}: the model spans {span[0]:.4g} x {span[1]:.4g} x {span[2]:.4g} m at scale {scale:g}, "
                         f"up {up!r}; a model must fit in {MAX_MESH_EXTENT:g} x {MAX_MESH_EXTENT:g} x "
                         f"{MAX_MESH_HEIGHT:g} m -- {units}.")
    far = float(max(np.abs(lo).max(), np.abs(hi).max()))
    if far > MAX_MESH_COORDINATE:
        raise SceneError(f"{path}: the model lies {far:.4g} m from the file's origin at scale {scale:g}, beyond "
                         f"{MAX_MESH_COORDINATE:g} m; move it near the origin in your modelling tool.")


def _merge_node(key: str, members: list[tuple[str, str, trimesh.Trimesh]]) -> _Loaded:
    """One object from the (name, geometry name, mesh) primitives of one node, in a loader-independent order."""
    members = sorted(members, key=lambda m: (_natural_key(m[0]), _natural_key(m[1])))
    return _Loaded(name=members[0][0], node=key, mesh=_concatenate([m for _, _, m in members]))


def _frame_matrix(up: str, scale: float) -> np.ndarray:
    """(4, 4) float64 file-to-project transform: rotate the up axis to +z, then scale to metres."""
    if up not in ("z", "y"):
        raise SceneError(f"up must be 'z' or 'y' (the file's up axis), not {up!r}.")
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.floating)) or not np.isfinite(scale) or scale <= 0:
        raise SceneError(f"scale must be a positive number of metres per file unit (e.g. 0.01 for cm), not {scale!r}.")
    rotation = np.eye(4)
    if up == "y":  # (x, y, z) -> (x, -z, y): +90 degrees about x
        rotation = trimesh.transformations.rotation_matrix(np.pi / 2, (1.0, 0.0, 0.0))
        rotation[np.abs(rotation) < 1e-12] = 0.0  # exact zeros keep axis-aligned boxes exact
    return np.diag([scale, scale, scale, 1.0]) @ rotation


def _read_trimesh_scene(path: Path) -> trimesh.Scene:
    """The file as a trimesh.Scene; SceneError for a missing, unsupported or unreadable file."""
    if not path.is_file():
        raise SceneError(f"mesh file {path} does not exist; check the path.")
    file_type = _file_type(path)
    _check_mesh_file(path, file_type)
    try:
        return trimesh.load(str(path), file_type=file_type, force="scene", **_loader_options(path, file_type))
    except Exception as e:  # trimesh raises anything from ValueError to IndexError on bad input
        detail = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise SceneError(
            f"cannot read {path} as {file_type.upper()} ({detail}); the file is corrupt, truncated or not really "
            f"{file_type.upper()} -- re-export it from your modelling tool."
        ) from None


def _check_mesh_file(path: Path, file_type: str) -> None:
    """The limits that can be read before loading: file size, and the counts a header declares."""
    size = path.stat().st_size
    if size > MAX_MESH_FILE_BYTES:
        raise SceneError(f"{path} is {size / MIB:.0f} MiB, larger than the import limit of {MAX_MESH_FILE_BYTES // MIB} MiB; "
                         "simplify or split the model.")
    check = {"glb": _check_gltf_header, "gltf": _check_gltf_header, "ply": _check_ply_header, "off": _check_off_header,
             "stl": _check_stl_header, "obj": _check_obj_counts}.get(file_type)
    if check is not None:
        check(path, size)


def _declared(path: Path, what: str, count: Any, limit: int) -> int:
    """A count declared in a file header, checked against ``limit``; malformed counts are left to the loader (0)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        return 0
    if count > limit:
        raise _too_many(path, f"{count:,} {what} (declared in its header)")
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
    nodes = header.get("nodes") if isinstance(header.get("nodes"), list) else []
    accessors = header.get("accessors") if isinstance(header.get("accessors"), list) else []
    meshes = header.get("meshes") if isinstance(header.get("meshes"), list) else []
    _declared(path, "nodes", len(nodes), 10 * MAX_MESH_PARTS)
    declared = 0
    for a in accessors:
        if isinstance(a, dict) and isinstance(a.get("count"), int) and a["count"] >= 0:
            item = _GLTF_COMPONENT_BYTES.get(a.get("componentType"), 4) * _GLTF_COMPONENTS.get(a.get("type"), 16)
            sparse = a.get("sparse") if isinstance(a.get("sparse"), dict) else {}
            declared += a["count"] * item + (sparse.get("count", 0) if isinstance(sparse.get("count"), int) else 0) * 8
    if declared > 2 * MAX_MESH_FILE_BYTES:
        raise _too_many(path, f"arrays of {declared / MIB:,.0f} MiB (declared by its accessors)")
    per_mesh = [_gltf_mesh_triangles(m, accessors) for m in meshes]
    triangles = sum(per_mesh[n["mesh"]] for n in nodes
                    if isinstance(n, dict) and isinstance(n.get("mesh"), int) and 0 <= n["mesh"] < len(per_mesh))
    _declared(path, "triangles", triangles, MAX_MESH_TRIANGLES)
    _check_gltf_uris(path, header, size)


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
        attributes = prim.get("attributes") if isinstance(prim.get("attributes"), dict) else {}
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
        entries = header.get(key) if isinstance(header.get(key), list) else []
        for entry in entries:
            uri = entry.get("uri") if isinstance(entry, dict) else None
            if not isinstance(uri, str) or uri.startswith("data:") or "://" in uri:
                continue  # embedded, or remote (never fetched)
            try:
                info = (path.parent / unquote(uri)).stat()
            except (OSError, ValueError):
                continue
            if not stat.S_ISREG(info.st_mode):
                raise SceneError(f"{path} refers to {uri[:80]!r}, which is not a regular file (glTF {key} must be "
                                 "embedded or files); re-export the model as .glb.")
            total += info.st_size
            if total > MAX_MESH_FILE_BYTES:
                raise SceneError(f"{path} and the files it refers to hold more than {MAX_MESH_FILE_BYTES // MIB} MiB, "
                                 "the import limit; simplify or split the model.")


def _file_type(path: Path) -> str:
    """trimesh file type from the (possibly compound) suffix; SceneError listing readable formats."""
    formats = set(trimesh.available_formats()) - _NOT_MESH_FORMATS
    name = path.name.lower()
    matches = [f for f in formats if name.endswith("." + f)]
    if not matches:
        raise SceneError(f"{path} has no mesh-file suffix trimesh can read; use one of: {', '.join(sorted(formats))}.")
    return max(matches, key=len)


def _loader_options(path: Path, file_type: str) -> dict[str, Any]:
    """Extra trimesh loader options: split OBJ files by object (or group) name, never by material."""
    if file_type != "obj":
        return {}
    has_objects = has_groups = False
    with path.open("rb") as f:
        for line in f:
            has_objects = has_objects or line.startswith((b"o ", b"o\t"))
            has_groups = has_groups or line.startswith((b"g ", b"g\t"))
            if has_objects:
                break
    return {"split_objects": has_objects, "split_groups": has_groups and not has_objects, "group_material": False}


def _node_name(graph: Any, node: str, geom_name: str, path: Path) -> tuple[str, str]:
    """(grouping key, mesh name) of a geometry node of a trimesh scene graph.

    Folds glTF multi-primitive frames (``<node>_<6 random hex>`` under ``<node>``, identity transform)
    into their node, falls back to the geometry name for unnamed glTF nodes (index names), and renames
    the file-name default that single-mesh formats get to the file stem.
    """
    key = _primitive_owner(graph, node) or node
    name = geom_name if re.fullmatch(r"\d+", key) else key
    if name == path.name:
        name = path.stem
    return key, name


def _primitive_owner(graph: Any, node: str) -> str | None:
    """The glTF node that owns ``node`` when ``node`` is a synthetic per-primitive frame, else None."""
    parent = graph.transforms.parents.get(node)
    if parent is None or parent == graph.base_frame:
        return None
    if not re.fullmatch(re.escape(parent) + r"_[0-9a-f]{6}", node):
        return None
    matrix, _ = graph.get(frame_to=node, frame_from=parent)
    return parent if np.allclose(matrix, np.eye(4)) else None


def _check_geometry(mesh: trimesh.Trimesh, path: Path, name: str) -> None:
    """SceneError for corrupt geometry: non-finite coordinates or faces indexing missing vertices."""
    vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    if not np.isfinite(vertices).all():
        raise SceneError(f"{path}: mesh {name!r} has NaN or infinite vertex coordinates; repair or re-export the model.")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise SceneError(f"{path}: mesh {name!r} has faces that reference missing vertices (corrupt file); re-export the model.")


def _transformed(mesh: trimesh.Trimesh, matrix: np.ndarray) -> trimesh.Trimesh:
    """A plain (N, 3) float64 / (F, 3) int64 copy of ``mesh`` under the (4, 4) ``matrix``; winding kept outward."""
    vertices = trimesh.transformations.transform_points(np.asarray(mesh.vertices, dtype=np.float64), matrix)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    if np.linalg.det(matrix[:3, :3]) < 0:  # a mirroring transform flips the winding
        faces = faces[:, ::-1]
    return trimesh.Trimesh(vertices=vertices, faces=faces, process=False)


def _concatenate(meshes: list[trimesh.Trimesh]) -> trimesh.Trimesh:
    """One mesh from the primitives of one node (no vertex merging)."""
    if len(meshes) == 1:
        return meshes[0]
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    vertices = np.concatenate([m.vertices for m in meshes])
    faces = np.concatenate([m.faces + off for m, off in zip(meshes, offsets)])
    return trimesh.Trimesh(vertices=vertices, faces=faces, process=False)


def _natural_key(text: str) -> tuple:
    """Sort key ordering digit runs numerically: ``chair_2`` before ``chair_10``."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text) if t)
