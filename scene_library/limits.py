"""Documented limits on scene input: descriptions, label maps and user meshes.

Every limit is checked up front, before the work it bounds, and a breach raises
:class:`~scene_library.errors.SceneError` with a one-line message that names the limit and what to change.
The limits sit far above anything the room generator writes (rooms of 2-10 m, ceilings of 2.4-2.9 m,
under 100 pieces and about 20,000 triangles) and above ordinary user models, so they only stop input
that would exhaust memory or time.
"""

from __future__ import annotations

MIB = 1 << 20  #: bytes in a mebibyte

# --- scene descriptions (JSON) --------------------------------------------------------------------

#: Largest scene description file (bytes). A generated room's description is 5-30 KB.
MAX_DESCRIPTION_BYTES = 32 * MIB
#: Largest horizontal extent of a room (m): the floor plan must lie in [0, 100] x [0, 100].
MAX_ROOM_EXTENT = 100.0
#: Highest ceiling (m).
MAX_ROOM_HEIGHT = 20.0
#: Most vertices of a floor plan polygon.
MAX_POLYGON_VERTICES = 64
#: Smallest floor area (m^2) of a room with a generated shell (floor, walls, ceiling).
MIN_FLOOR_AREA = 0.01
#: Most keep-clear rectangles and skirting gaps (each).
MAX_ROOM_RECTS = 256
#: Most objects (pieces) in a description.
MAX_OBJECTS = 10_000
#: How far (m) an object's pose may lie outside the floor plan's bounding box, below the floor or above
#: the ceiling (wall items stand proud of the wall, openings sit in it).
POSE_MARGIN = 1.0
#: Largest magnitude of an object's yaw (radians); any angle can be written within it.
MAX_YAW = 1000.0
#: Most triangles of a built scene (all objects, the shell included); checked as the pieces are built.
MAX_SCENE_TRIANGLES = 8_000_000
#: Most labelled parts (shell elements and the parts of every piece) in a built scene: instance ids are
#: stored as uint16 in frames, 0 meaning none.
MAX_SCENE_PARTS = 65_535
#: Longest text in a description: object names, room type, text parameters (characters).
MAX_TEXT = 256

# --- object parameters ----------------------------------------------------------------------------

#: Largest magnitude of a numeric object parameter (metres, radians or ratios): no piece of furniture is larger
#: than the highest room, and with counts and pitches bounded too a piece stays within about 10^5 triangles.
MAX_PARAM_VALUE = MAX_ROOM_HEIGHT
#: Largest whole-number parameter (a count such as ``n_shelves``, or an index).
MAX_PARAM_COUNT = 64
#: Most numbers, texts and flags in one object's parameters, nested lists included.
MAX_PARAM_VALUES = 4096
#: Deepest nesting of lists and mappings inside one parameter (books on the levels of a bookshelf: 3).
MAX_PARAM_DEPTH = 6

# --- label maps -------------------------------------------------------------------------------------

#: Largest label-map file (bytes).
MAX_LABEL_MAP_BYTES = 1 * MIB
#: Longest regular expression of a ``re:`` rule (characters).
MAX_REGEX_CHARS = 512
#: Largest size of a ``re:`` rule's pattern with its counted repeats expanded (``(ab){3}`` counts 6):
#: compiling expands them, and ``(a{10000}){10000}`` would need gigabytes.
MAX_REGEX_SIZE = 100_000
#: Largest sum of those sizes over all ``re:`` rules of one label map: every compiled rule is kept while the
#: map is used, at about 150 bytes per expanded item, so a map's rules stay within a few tens of MiB.
MAX_LABEL_MAP_REGEX_SIZE = 250_000
#: Longest time (s) one ``re:`` rule may take to match one mesh name.
REGEX_TIMEOUT_S = 0.25
#: Longest time (s) all rules may take to label all mesh names of one file.
LABELING_TIMEOUT_S = 5.0

# --- user meshes ------------------------------------------------------------------------------------

#: Largest mesh file (bytes).
MAX_MESH_FILE_BYTES = 256 * MIB
#: Most triangles in one mesh file (declared in its header where the format has one, and as loaded).
MAX_MESH_TRIANGLES = 4_000_000
#: Most separately named parts (nodes, objects) in one mesh file.
MAX_MESH_PARTS = MAX_OBJECTS
#: Largest horizontal extent (m) of an imported mesh after ``up`` and ``scale``.
MAX_MESH_EXTENT = MAX_ROOM_EXTENT
#: Largest height (m) of an imported mesh after ``up`` and ``scale``.
MAX_MESH_HEIGHT = MAX_ROOM_HEIGHT
#: Largest magnitude (m) of a vertex coordinate after ``up`` and ``scale``, before the model is moved to
#: the origin; beyond it float precision is too coarse to keep a metre-scale model's shape.
MAX_MESH_COORDINATE = 100_000.0
