import numpy as np
import pytest

from scene_library import ROOM_FURNITURE, SceneError, generate_room
from scene_library.labels import class13_names, class40_id, class40_names, class40_to_13
from synthcam.trajectory import SHELL_PIECES

OPENINGS = ("door", "window", "picture")


def piece_bounds(scene) -> dict[str, np.ndarray]:
    """(2, 3) world AABB of every piece (furniture with its parts, or a shell element)."""
    out: dict[str, list] = {}
    for o in scene.objects:
        out.setdefault(o.piece, []).append(o.mesh.bounds)
    return {k: np.stack([np.min([b[0] for b in v], axis=0), np.max([b[1] for b in v], axis=0)]) for k, v in out.items()}


def aabb_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a[0] < b[1]) and np.all(b[0] < a[1]))


@pytest.mark.parametrize("seed", range(60))
def test_room_is_physically_valid(seed):
    scene = generate_room(np.random.default_rng(seed))
    sx, sy, h = scene.room.size
    assert 2.4 <= h <= 2.9
    names = {o.name for o in scene.objects}
    assert {"floor", "ceiling", "door", "window"} <= names and sum(n.startswith("wall_") for n in names) == 4
    bounds = piece_bounds(scene)
    furniture = {k: v for k, v in bounds.items() if k not in SHELL_PIECES}
    # At least 5 pieces of 5 different NYU40 classes.
    main_class = {o.piece: o.class40 for o in scene.objects if o.piece in furniture and "/" in o.name}
    assert len(furniture) >= 5 and len(set(main_class.values())) >= 5
    for name, b in furniture.items():
        assert abs(b[0, 2]) < 1e-9, f"{name} does not stand on the floor"
        assert np.all(b[0, :2] >= 0) and b[1, 0] <= sx and b[1, 1] <= sy and b[1, 2] <= h, f"{name} leaves the room"
        for zone in scene.room.keep_clear:  # door swing zone
            assert not (b[0, 0] < zone[2] and zone[0] < b[1, 0] and b[0, 1] < zone[3] and zone[1] < b[1, 1])
    # No interpenetration: bounding boxes of different pieces (and of the openings) are disjoint.
    items = list(furniture.items()) + [(k, bounds[k]) for k in OPENINGS]
    for i, (na, a) in enumerate(items):
        for nb, b in items[i + 1 :]:
            assert not aabb_overlap(a, b), f"{na} intersects {nb}"
    # Instance ids are 1..N and unique.
    assert sorted(o.instance_id for o in scene.objects) == list(range(1, len(scene.objects) + 1))


def test_parts_carry_their_own_class():
    scene = generate_room(np.random.default_rng(0), "bedroom")
    classes = {o.name.split("/")[-1].split("_")[0]: o.class40 for o in scene.objects if o.piece.startswith("bed_")}
    assert classes["frame"] == class40_id("bed") and classes["pillow"] == class40_id("pillow")


def test_same_seed_same_room():
    a, b = (generate_room(np.random.default_rng(5)) for _ in range(2))
    assert a.describe() == b.describe()
    assert all(np.array_equal(x.mesh.vertices, y.mesh.vertices) for x, y in zip(a.objects, b.objects))


def test_unknown_room_type_lists_valid_types():
    with pytest.raises(SceneError, match="valid types: " + ", ".join(ROOM_FURNITURE)):
        generate_room(np.random.default_rng(0), "garage")


def test_label_tables_come_from_the_data_files():
    names = class40_names()
    assert len(names) == 41 and names[0] == "void" and names[1] == "wall" and names[40] == "otherprop"
    assert class13_names()[class40_to_13()[class40_id("pillow")]] == "objects"
    assert class13_names()[class40_to_13()[class40_id("door")]] == "wall"
    with pytest.raises(SceneError, match="valid names: wall, floor"):
        class40_id("spaceship")
