"""Shared cabinet-making parts: drawer and door fronts with handles, plinths (metres).

Fronts are thin boxes on the face of a carcass, with handles standing out in front of them. Given the
piece's front plane ``y_face`` (the bounding box's -y side), handles occupy ``[y_face, y_face + hd]``
and fronts ``[y_face + hd, y_face + hd + t]`` (hd = :func:`handle_depth`), so a carcass that starts at
``y_face + hd + t`` keeps every part inside the piece's box.
"""

from __future__ import annotations

from scene_library.objects.primitives import Mesh, bx

HANDLES = ("bar", "knob", "none")  #: handle styles
FRONT_T = 0.02  #: thickness of drawer and door fronts (m)


def handle_depth(style: str) -> float:
    """How far a handle of this style stands out of its front (m)."""
    return 0.0 if style == "none" else 0.025


def face_depth(style: str) -> float:
    """Handle depth plus front thickness: where the carcass face starts behind ``y_face`` (m)."""
    return handle_depth(style) + FRONT_T


def _handle(style: str, xc: float, zc: float, y_face: float, horizontal: bool, length: float) -> list[Mesh]:
    hd = handle_depth(style)
    if style == "none":
        return []
    if style == "knob":
        return [bx(xc - 0.014, xc + 0.014, y_face, y_face + hd, zc - 0.014, zc + 0.014)]
    if horizontal:
        return [bx(xc - length / 2, xc + length / 2, y_face, y_face + hd, zc - 0.007, zc + 0.007)]
    return [bx(xc - 0.007, xc + 0.007, y_face, y_face + hd, zc - length / 2, zc + length / 2)]


def drawer_fronts(
    x0: float, x1: float, z0: float, z1: float, y_face: float, rows: int, cols: int, handle: str, gap: float = 0.004
) -> list[Mesh]:
    """A rows x cols grid of drawer fronts covering [x0, x1] x [z0, z1], each with a centred handle."""
    hd = handle_depth(handle)
    dw, dh = (x1 - x0) / cols, (z1 - z0) / rows
    out: list[Mesh] = []
    for r in range(rows):
        for c in range(cols):
            a, b = x0 + c * dw + gap / 2, x0 + (c + 1) * dw - gap / 2
            lo, hi = z0 + r * dh + gap / 2, z0 + (r + 1) * dh - gap / 2
            out.append(bx(a, b, y_face + hd, y_face + hd + FRONT_T, lo, hi))
            out += _handle(handle, (a + b) / 2, lo + 0.6 * (hi - lo), y_face, True, min(0.16, 0.4 * (b - a)))
    return out


def door_fronts(
    x0: float,
    x1: float,
    z0: float,
    z1: float,
    y_face: float,
    n: int,
    handle: str,
    handle_pos: str = "top",
    gap: float = 0.004,
) -> list[Mesh]:
    """``n`` side-by-side doors covering [x0, x1] x [z0, z1]; handles near the meeting edges (pairs) and
    at the top, middle or bottom of the doors."""
    hd = handle_depth(handle)
    dw = (x1 - x0) / n
    out: list[Mesh] = []
    for i in range(n):
        a, b = x0 + i * dw + gap / 2, x0 + (i + 1) * dw - gap / 2
        out.append(bx(a, b, y_face + hd, y_face + hd + FRONT_T, z0 + gap / 2, z1 - gap / 2))
        toward_right = (i % 2 == 0) if n > 1 else True
        xc = b - 0.04 if toward_right else a + 0.04
        length = min(0.2, 0.3 * (z1 - z0))
        zc = {"top": z1 - 0.06 - length / 2, "middle": (z0 + z1) / 2, "bottom": z0 + 0.06 + length / 2}[handle_pos]
        out += _handle(handle, xc, zc, y_face, False, length)
    return out


def plinth(x0: float, x1: float, y0: float, y1: float, height: float, setback: float = 0.05) -> Mesh:
    """A toe-kick plinth from the floor to ``height``, set back from the front (y0) by ``setback``."""
    return bx(x0 + 0.01, x1 - 0.01, y0 + setback, y1, 0.0, height)
