"""Label helpers, random-choice helpers, composite shapes and piece assembly for the generators.

Everything here is in metres and radians; the meshes come from :mod:`scene_library.objects.primitives`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import trimesh

from scene_library.errors import SceneError
from scene_library.objects.base import Part, Piece, Support
from scene_library.objects.primitives import Mesh, PrimitiveMesh, as_trimesh, bx, cyl, join, mesh_of
from synthcam_core.labels import class40_id, raw_name_to_40

# --- labels ---------------------------------------------------------------------------------------


def cls(name: str) -> int:
    """NYU40 id of a 40-class name (spaces or underscores)."""
    return class40_id(name)


def raw_class(name: str) -> int:
    """NYU40 id that the NYUv2 894-name table gives a raw object name (``"monitor"`` -> otherprop)."""
    try:
        return raw_name_to_40()[name]
    except KeyError:
        raise KeyError(f"{name!r} is not an NYUv2 raw object name") from None


def part(name: str, class40: int | str, meshes: Mesh | Iterable[Mesh]) -> Part:
    """A labelled part; ``class40`` is an id or an NYU40 class name."""
    cid = class40 if isinstance(class40, int) else cls(class40)
    if isinstance(meshes, (trimesh.Trimesh, PrimitiveMesh)):
        mesh = as_trimesh(meshes)
    else:
        mesh = join(meshes)
    return Part(name, cid, mesh)


# --- random helpers (plain Python values, JSON-safe) -----------------------------------------------


def choice(rng: np.random.Generator, options: Sequence, p: Sequence[float] | None = None):
    """One of ``options`` (returned as the original Python object), optionally weighted by ``p``."""
    if p is None:
        return options[int(rng.integers(len(options)))]
    w = np.asarray(p, dtype=np.float64)
    return options[int(rng.choice(len(options), p=w / w.sum()))]


def randint(rng: np.random.Generator, lo: int, hi: int) -> int:
    """An int in [lo, hi] inclusive."""
    return int(rng.integers(lo, hi + 1))


def chance(rng: np.random.Generator, p: float) -> bool:
    """True with probability p."""
    return bool(rng.random() < p)


def r4(x: float) -> float:
    """Round to 0.1 mm and return a plain float (keeps params JSON-exact)."""
    return round(float(x), 4)


# --- composite shapes -----------------------------------------------------------------------------


def post(
    shape: str, x0: float, x1: float, y0: float, y1: float, z0: float, z1: float, sections: int = 8
) -> PrimitiveMesh:
    """A leg or post filling the given bounds: a box (``"square"``) or an inscribed cylinder (``"round"``)."""
    if shape == "round":
        return cyl(min(x1 - x0, y1 - y0) / 2, z0, z1, ((x0 + x1) / 2, (y0 + y1) / 2), sections)
    return bx(x0, x1, y0, y1, z0, z1)


def corner_legs(
    shape: str, x0: float, x1: float, y0: float, y1: float, size: float, z0: float, z1: float, inset: float = 0.0
) -> list[Mesh]:
    """Four ``size``-thick legs in the corners of the plan rectangle [x0, x1] x [y0, y1], ``inset`` from its edges."""
    xs = ((x0 + inset, x0 + inset + size), (x1 - inset - size, x1 - inset))
    ys = ((y0 + inset, y0 + inset + size), (y1 - inset - size, y1 - inset))
    return [post(shape, a, b, c, d, z0, z1) for a, b in xs for c, d in ys]


def pleated_panel(
    x0: float, x1: float, y_center: float, z0: float, z1: float, pitch: float, fold_depth: float, sections: int = 8
) -> list[Mesh]:
    """A hanging fabric panel over [x0, x1] x [z0, z1] with vertical folds: a thin backing sheet plus a row of
    elliptic cylinders (half-width ``pitch / 2``, half-depth ``fold_depth / 2``) centred on ``y_center``.
    Everything stays inside x in [x0, x1] and y in y_center +- fold_depth / 2 (metres)."""
    width = x1 - x0
    n = max(1, int(width / pitch + 1e-9))
    rx = min(pitch, width) / 2
    out: list[Mesh] = [bx(x0, x1, y_center - 0.002, y_center + 0.002, z0, z1)]
    span = width - 2 * rx
    for i in range(n):
        xc = x0 + rx + (span * i / (n - 1) if n > 1 else span / 2)
        out.append(cyl(rx, z0, z1, (xc, y_center), sections, ry=fold_depth / 2))
    return out


# --- assembly -------------------------------------------------------------------------------------

TOL = 1e-9


def assemble(
    kind: str,
    params: dict,
    parts: Sequence[Part],
    supports: Sequence[Support] = (),
    size: Sequence[float] | None = None,
) -> Piece:
    """A :class:`Piece` from parts built in the local frame.

    With ``size = (width, depth, height)`` the parts must already lie in the box (checked). Without it the
    parts are translated so that their plan bounding box is centred and their lowest vertex is at z = 0,
    and the size is measured; supports move with them.
    """
    allv = np.concatenate([p.mesh.vertices for p in parts])
    lo, hi = allv.min(axis=0), allv.max(axis=0)
    if size is None:
        shift = np.array([-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2]])
        if np.any(shift != 0.0):
            parts = [Part(p.name, p.class40, mesh_of(p.mesh.vertices + shift, p.mesh.faces)) for p in parts]
            supports = [
                Support(s.z + shift[2], s.x0 + shift[0], s.y0 + shift[1], s.x1 + shift[0], s.y1 + shift[1], s.clearance)
                for s in supports
            ]
        w, d, h = float(hi[0] - lo[0]), float(hi[1] - lo[1]), float(hi[2] - lo[2])
    else:
        w, d, h = (float(v) for v in size)
        bad = (
            lo[0] < -w / 2 - TOL
            or hi[0] > w / 2 + TOL
            or lo[1] < -d / 2 - TOL
            or hi[1] > d / 2 + TOL
            or hi[2] > h + TOL
        )
        if lo[2] != 0.0 or bad:  # only stored params that contradict each other get here (a seat above the top, ...)
            raise SceneError(
                f"the params of this {kind} contradict each other: its parts span {np.round(lo, 4).tolist()}.."
                f"{np.round(hi, 4).tolist()} m, outside its {w:g} x {d:g} x {h:g} m box resting on z = 0; "
                "draw consistent params with 'synthcam scenes sample'"
            )
    return Piece(kind, params, tuple(parts), w, d, h, tuple(supports))


def support(z: float, x0: float, y0: float, x1: float, y1: float, clearance: float = float("inf")) -> Support:
    """A support rectangle with plain-float fields (metres)."""
    return Support(float(z), float(x0), float(y0), float(x1), float(y1), float(clearance))


def with_defaults(params: dict, defaults: dict) -> dict:
    """``params`` completed with ``defaults`` for missing keys (used by kinds that accept partial params)."""
    return {**defaults, **params}


def spec(
    kind: str,
    class40: int | str,
    placement: str,
    sample,
    build,
    *,
    mount_height: tuple[float, float] | None = None,
    front_clearance: float = 0.0,
    tags: tuple[str, ...] = (),
):
    """An :class:`ObjectSpec`; ``class40`` is an id (e.g. from :func:`raw_class`) or an NYU40 class name."""
    from scene_library.objects.base import ObjectSpec

    cid = class40 if isinstance(class40, int) else cls(class40)
    return ObjectSpec(kind, cid, placement, sample, build, mount_height, front_clearance, tags)
