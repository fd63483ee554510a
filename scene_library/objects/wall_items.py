"""Wall items: picture, mirror, whiteboard, wall-mounted television, door, window, curtain, blinds.

All use the wall-mounted frame of :mod:`scene_library.objects.base`: the back (+y) touches the wall, the
depth is how far the piece stands out, z = 0 is the lower edge. Sizes (research/scene_generation.md §3.5,
metres): picture 0.3-1.3 x 0.3-1.0, 2-4 cm deep; mirror 0.4-1.0 wide; whiteboard 0.9-2.4 x 0.6-1.2, lower
edge 0.8-0.9; television panel 0.7-1.45 wide (16:9); door leaf 0.70-0.90 x 2.00-2.10 in a 5-10 cm casing;
window 0.6-2.0 x 0.8-1.5 with the sill at 0.80-1.00; curtains 1.2-2.6 wide.

Doors, windows, curtains and blinds are sized by the room shell: their builders accept a params dict with
only ``width`` and ``height`` (curtains also ``open_fraction``) and fill the rest with fixed defaults, so
``build_piece("window", {"width": 1.2, "height": 1.1})`` works. ``width`` and ``height`` are always the
overall size of the piece (casing / frame included).
"""

from __future__ import annotations

import numpy as np

from scene_library.objects.base import Piece, uniform
from scene_library.objects.primitives import Mesh, boxes, bx, disc_y, rod_x, rot_z, rotated_box, transformed
from scene_library.objects.shapes import assemble, chance, choice, part, pleated_panel, raw_class, spec, with_defaults

# --- picture ----------------------------------------------------------------------------------------


def sample_picture(rng: np.random.Generator) -> dict:
    """Picture params (metres): framed print, canvas or poster; landscape, portrait or square."""
    variant = choice(rng, ["framed", "framed", "canvas", "poster"])
    shape = choice(rng, ["landscape", "portrait", "square"], [0.5, 0.35, 0.15])
    if shape == "landscape":
        w = uniform(rng, 0.3, 1.3)
        h = uniform(rng, 0.3, min(1.0, w))
    elif shape == "portrait":
        h = uniform(rng, 0.3, 1.0)
        w = uniform(rng, 0.3, h)
    else:
        w = h = uniform(rng, 0.3, 1.0)
    return {
        "variant": variant,
        "width": w,
        "height": h,
        "depth": uniform(rng, 0.003, 0.006) if variant == "poster" else uniform(rng, 0.02, 0.04),
        "frame": uniform(rng, 0.02, 0.07),
        "mat": chance(rng, 0.4),
    }


def build_picture(p: dict) -> Piece:
    """Picture (class picture): a frame around a recessed print (optional mat), a canvas slab, or a poster."""
    w, h, d = p["width"], p["height"], p["depth"]
    if p["variant"] == "framed":
        f = min(p["frame"], w / 5, h / 5)
        frame = boxes(
            [
                (-w / 2, w / 2, -d / 2, d / 2, 0.0, f),
                (-w / 2, w / 2, -d / 2, d / 2, h - f, h),
                (-w / 2, -w / 2 + f, -d / 2, d / 2, f, h - f),
                (w / 2 - f, w / 2, -d / 2, d / 2, f, h - f),
            ]
        )
        meshes = [frame, bx(-w / 2 + f, w / 2 - f, d / 2 - 0.01, d / 2, f, h - f)]
        if p["mat"] and min(w, h) > 0.4:
            m = 0.05
            meshes.append(
                boxes(
                    [
                        (-w / 2 + f, w / 2 - f, d / 2 - 0.012, d / 2 - 0.01, f, f + m),
                        (-w / 2 + f, w / 2 - f, d / 2 - 0.012, d / 2 - 0.01, h - f - m, h - f),
                    ]
                )
            )
    else:
        meshes = [bx(-w / 2, w / 2, -d / 2, d / 2, 0.0, h)]
    return assemble("picture", p, [part("picture", "picture", meshes)], size=(w, d, h))


# --- mirror -----------------------------------------------------------------------------------------


def sample_mirror(rng: np.random.Generator) -> dict:
    """Wall mirror params (metres): framed, frameless, round, or a mirrored medicine cabinet."""
    variant = choice(rng, ["framed", "frameless", "round", "cabinet"])
    w = uniform(rng, 0.4, 0.8) if variant == "round" else uniform(rng, 0.4, 1.0)
    depth = {
        "framed": uniform(rng, 0.02, 0.04),
        "frameless": uniform(rng, 0.006, 0.01),
        "round": uniform(rng, 0.01, 0.03),
        "cabinet": uniform(rng, 0.10, 0.15),
    }[variant]
    return {
        "variant": variant,
        "width": w,
        "height": w if variant == "round" else uniform(rng, 0.5, 1.0),
        "depth": depth,
        "frame": uniform(rng, 0.02, 0.06),
    }


def build_mirror(p: dict) -> Piece:
    """Mirror (class mirror); the cabinet variant is a shallow box (class cabinet) with a mirror door."""
    w, h, d, v = p["width"], p["height"], p["depth"], p["variant"]
    if v == "round":
        parts = [part("mirror", "mirror", disc_y(w / 2, -d / 2, d / 2, 0.0, h / 2, 32))]
    elif v == "cabinet":
        parts = [
            part("mirror", "mirror", bx(-w / 2, w / 2, -d / 2, -d / 2 + 0.02, 0.0, h)),
            part("cabinet", "cabinet", bx(-w / 2, w / 2, -d / 2 + 0.02, d / 2, 0.0, h)),
        ]
    elif v == "framed":
        f = min(p["frame"], w / 5, h / 5)
        parts = [
            part(
                "mirror",
                "mirror",
                [
                    boxes(
                        [
                            (-w / 2, w / 2, -d / 2, d / 2, 0.0, f),
                            (-w / 2, w / 2, -d / 2, d / 2, h - f, h),
                            (-w / 2, -w / 2 + f, -d / 2, d / 2, f, h - f),
                            (w / 2 - f, w / 2, -d / 2, d / 2, f, h - f),
                        ]
                    ),
                    bx(-w / 2 + f, w / 2 - f, d / 2 - 0.008, d / 2, f, h - f),
                ],
            )
        ]
    else:
        parts = [part("mirror", "mirror", bx(-w / 2, w / 2, -d / 2, d / 2, 0.0, h))]
    return assemble("mirror", p, parts, size=(w, d, h))


# --- whiteboard -------------------------------------------------------------------------------------


def sample_whiteboard(rng: np.random.Generator) -> dict:
    """Whiteboard params (metres)."""
    return {
        "width": uniform(rng, 0.9, 2.4),
        "height": uniform(rng, 0.6, 1.2),
        "board": uniform(rng, 0.015, 0.03),
        "frame": uniform(rng, 0.015, 0.03),
        "tray_depth": uniform(rng, 0.05, 0.08) if chance(rng, 0.7) else 0.0,
    }


def build_whiteboard(p: dict) -> Piece:
    """Whiteboard (class whiteboard): board in a thin frame, optional marker tray along the bottom edge."""
    w, h, t, f, tray = p["width"], p["height"], p["board"], p["frame"], p["tray_depth"]
    d = max(t + 0.005, tray)
    yb = d / 2
    meshes = [
        bx(-w / 2 + f, w / 2 - f, yb - t, yb, f, h - f),
        boxes(
            [
                (-w / 2, w / 2, yb - t - 0.005, yb, 0.0, f),
                (-w / 2, w / 2, yb - t - 0.005, yb, h - f, h),
                (-w / 2, -w / 2 + f, yb - t - 0.005, yb, f, h - f),
                (w / 2 - f, w / 2, yb - t - 0.005, yb, f, h - f),
            ]
        ),
    ]
    if tray > 0:
        meshes += [
            bx(-w / 2 + 0.1, w / 2 - 0.1, -d / 2, yb - t, 0.0, 0.008),
            bx(-w / 2 + 0.1, w / 2 - 0.1, -d / 2, -d / 2 + 0.005, 0.0, 0.025),
        ]
    return assemble("whiteboard", p, [part("whiteboard", "whiteboard", meshes)], size=(w, d, h))


# --- wall television --------------------------------------------------------------------------------


def sample_wall_tv(rng: np.random.Generator) -> dict:
    """Wall-mounted television params (metres)."""
    return {
        "width": uniform(rng, 0.7, 1.45),
        "panel_depth": uniform(rng, 0.03, 0.06),
        "bracket": uniform(rng, 0.02, 0.06),
        "bezel": uniform(rng, 0.005, 0.02),
    }


def build_wall_tv(p: dict) -> Piece:
    """Television (class television): a 16:9 panel on a wall bracket."""
    w, pd, br = p["width"], p["panel_depth"], p["bracket"]
    h = round(w * 9 / 16 + 2 * p["bezel"], 6)
    d = pd + br
    meshes = [
        bx(-w / 2, w / 2, -d / 2, -d / 2 + pd, 0.0, h),
        bx(-0.15, 0.15, -d / 2 + pd, d / 2, h / 2 - 0.12, h / 2 + 0.12),
    ]
    return assemble("wall_tv", p, [part("television", "television", meshes)], size=(w, d, h))


# --- door -------------------------------------------------------------------------------------------

DOOR_DEFAULTS = {
    "casing": 0.07,
    "leaf_thickness": 0.04,
    "casing_proud": 0.01,
    "style": "flat",
    "n_panels": 4,
    "handle": "lever",
    "handle_height": 1.0,
    "hinge": 1,
    "open_angle": 0.0,
}


def sample_door(rng: np.random.Generator) -> dict:
    """Door params (metres, radians); width and height are the outer casing size."""
    c = uniform(rng, 0.05, 0.10)
    return {
        "width": round(uniform(rng, 0.70, 0.90) + 2 * c, 4),
        "height": round(uniform(rng, 2.00, 2.10) + c, 4),
        "casing": c,
        "leaf_thickness": uniform(rng, 0.035, 0.045),
        "casing_proud": uniform(rng, 0.005, 0.015),
        "style": choice(rng, ["flat", "panelled"]),
        "n_panels": choice(rng, [2, 4, 6]),
        "handle": choice(rng, ["lever", "knob"]),
        "handle_height": uniform(rng, 0.95, 1.05),
        "hinge": choice(rng, [-1, 1]),
        "open_angle": uniform(rng, 0.2, 1.4) if chance(rng, 0.25) else 0.0,
    }


def _door_leaf(q: dict, lw: float, lh: float) -> list[Mesh]:
    """A closed leaf spanning x in [-lw/2, lw/2] with its back on the wall plane y = 0 (room at -y)."""
    lt = q["leaf_thickness"]
    out: list[Mesh] = [bx(-lw / 2, lw / 2, -lt, 0.0, 0.0, lh)]
    if q["style"] == "panelled":
        rows = q["n_panels"] // 2
        m = 0.1
        ph = (lh - (rows + 1) * m) / rows
        pw = (lw - 3 * m) / 2
        for r in range(rows):
            z0 = m + r * (ph + m)
            for c in range(2):
                x0 = -lw / 2 + m + c * (pw + m)
                out.append(bx(x0, x0 + pw, -lt - 0.006, -lt, z0, z0 + ph))
    xh = -q["hinge"] * (lw / 2 - 0.07)
    zh = q["handle_height"]
    out.append(bx(xh - 0.025, xh + 0.025, -lt - 0.012, -lt, zh - 0.04, zh + 0.04))
    if q["handle"] == "lever":
        xe = xh + q["hinge"] * 0.12
        out.append(bx(min(xh, xe), max(xh, xe), -lt - 0.06, -lt - 0.04, zh - 0.01, zh + 0.01))
        out.append(bx(xh - 0.01, xh + 0.01, -lt - 0.05, -lt - 0.012, zh - 0.01, zh + 0.01))
    else:
        out.append(bx(xh - 0.03, xh + 0.03, -lt - 0.06, -lt - 0.04, zh - 0.03, zh + 0.03))
    return out


def build_door(p: dict) -> Piece:
    """Door (class door): casing (architrave) around the opening, a flat or panelled leaf and a lever or
    knob handle; ``open_angle`` (rad) swings the leaf into the room about its hinge side. The shell is
    expected to leave the wall behind the casing opening; z = 0 is the floor."""
    q = with_defaults(p, DOOR_DEFAULTS)
    w, h, c, lt = q["width"], q["height"], q["casing"], q["leaf_thickness"]
    lw, lh = w - 2 * c, h - c
    cd = lt + q["casing_proud"]
    frame = boxes(
        [
            (-w / 2, -w / 2 + c, -cd, 0.0, 0.0, h),
            (w / 2 - c, w / 2, -cd, 0.0, 0.0, h),
            (-w / 2 + c, w / 2 - c, -cd, 0.0, h - c, h),
        ]
    )
    leaf = _door_leaf(q, lw, lh)
    if q["open_angle"] > 0:
        pivot = (q["hinge"] * lw / 2, 0.0, 0.0)
        leaf = [transformed(m, rot_z(q["hinge"] * q["open_angle"]), pivot) for m in leaf]
    return assemble("door", p, [part("leaf", "door", leaf), part("frame", "door", frame)])


# --- window -----------------------------------------------------------------------------------------

WINDOW_DEFAULTS = {
    "frame": 0.05,
    "frame_depth": 0.05,
    "style": "double",
    "sill": True,
    "sill_depth": 0.08,
    "sill_thickness": 0.03,
}


def sample_window(rng: np.random.Generator) -> dict:
    """Window params (metres): overall size, frame, mullion style, optional sill."""
    w = uniform(rng, 0.6, 2.0)
    styles = ["single", "double", "grid", "transom"] + (["triple"] if w > 1.3 else [])
    return {
        "width": w,
        "height": uniform(rng, 0.8, 1.5),
        "frame": uniform(rng, 0.04, 0.08),
        "frame_depth": uniform(rng, 0.04, 0.08),
        "style": choice(rng, styles),
        "sill": chance(rng, 0.6),
        "sill_depth": uniform(rng, 0.04, 0.12),
        "sill_thickness": uniform(rng, 0.02, 0.04),
    }


def build_window(p: dict) -> Piece:
    """Window (class window): frame, mullions / transom per style, glass set back near the wall plane, and an
    optional sill. z = 0 is the bottom of the sill (or frame)."""
    q = with_defaults(p, WINDOW_DEFAULTS)
    w, h, f, fd = q["width"], q["height"], q["frame"], q["frame_depth"]
    z0 = q["sill_thickness"] if q["sill"] else 0.0
    b = [
        (-w / 2, w / 2, -fd, 0.0, z0, z0 + f),
        (-w / 2, w / 2, -fd, 0.0, h - f, h),
        (-w / 2, -w / 2 + f, -fd, 0.0, z0 + f, h - f),
        (w / 2 - f, w / 2, -fd, 0.0, z0 + f, h - f),
    ]
    m, md = 0.6 * f, 0.8 * fd
    zi0, zi1 = z0 + f, h - f
    style = q["style"]
    xs = {"double": [0.0], "grid": [0.0], "triple": [-w / 6, w / 6], "transom": [0.0]}.get(style, [])
    z_transom = zi0 + 0.72 * (zi1 - zi0)
    for x in xs:
        b.append((x - m / 2, x + m / 2, -md, 0.0, zi0, z_transom if style == "transom" else zi1))
    if style in ("grid", "transom"):
        zc = (zi0 + zi1) / 2 if style == "grid" else z_transom
        b.append((-w / 2 + f, w / 2 - f, -md, 0.0, zc - m / 2, zc + m / 2))
    if q["sill"]:
        b.append((-w / 2, w / 2, -max(q["sill_depth"], fd), 0.0, 0.0, z0))
    glass = bx(-w / 2 + f, w / 2 - f, -0.012, -0.006, zi0, zi1)
    return assemble("window", p, [part("frame", "window", boxes(b)), part("glass", "window", glass)])


# --- curtain ----------------------------------------------------------------------------------------

CURTAIN_DEFAULTS = {
    "open_fraction": 0.5,
    "rod_standoff": 0.08,
    "rod_radius": 0.012,
    "fold_pitch": 0.1,
    "fold_depth": 0.04,
}


def sample_curtain(rng: np.random.Generator) -> dict:
    """Curtain params (metres). ``height`` runs from the hem to the top of the rod; the room code usually
    overrides width (window + 0.2-0.6) and height (from just under the ceiling to the floor or sill)."""
    closed = chance(rng, 0.15)
    return {
        "width": uniform(rng, 1.2, 2.6),
        "height": uniform(rng, 1.4, 2.5),
        "open_fraction": uniform(rng, 0.0, 0.1) if closed else uniform(rng, 0.3, 0.8),
        "rod_standoff": uniform(rng, 0.06, 0.12),
        "rod_radius": uniform(rng, 0.01, 0.015),
        "fold_pitch": uniform(rng, 0.08, 0.14),
        "fold_depth": uniform(rng, 0.03, 0.06),
    }


def build_curtain(p: dict) -> Piece:
    """Curtain: two pleated panels (class curtain) drawn to the sides by ``open_fraction`` (0 closed, 1 fully
    open), hanging from a rod (raw "curtain rod" class) on two wall brackets. z = 0 is the hem."""
    q = with_defaults(p, CURTAIN_DEFAULTS)
    w, h, so, rr = q["width"], q["height"], q["rod_standoff"], q["rod_radius"]
    fd = q["fold_depth"]
    so = max(so, fd / 2 + rr + 0.01)
    zr = h - rr
    rod = [
        rod_x(rr, -w / 2, w / 2, -so, zr),
        bx(-w / 2 + 0.05, -w / 2 + 0.07, -so, 0.0, zr - 0.02, zr + 0.01),
        bx(w / 2 - 0.07, w / 2 - 0.05, -so, 0.0, zr - 0.02, zr + 0.01),
    ]
    pw = max(0.1, w * (1.0 - q["open_fraction"]) / 2)
    pitch = q["fold_pitch"] * (0.6 + 0.4 * pw / (w / 2))  # gathered panels fold tighter
    top = h - 2 * rr - 0.005
    panels = pleated_panel(-w / 2, -w / 2 + pw, -so, 0.0, top, pitch, fd) + pleated_panel(
        w / 2 - pw, w / 2, -so, 0.0, top, pitch, fd
    )
    return assemble("curtain", p, [part("curtain", "curtain", panels), part("rod", raw_class("curtain rod"), rod)])


# --- blinds -----------------------------------------------------------------------------------------

BLINDS_DEFAULTS = {"variant": "venetian", "slat_width": 0.035, "tilt": 0.3, "depth": 0.05, "headrail": 0.04}


def sample_blinds(rng: np.random.Generator) -> dict:
    """Blinds params (metres, radians); the room code usually sets width and height to the window's."""
    return {
        "width": uniform(rng, 0.6, 2.0),
        "height": uniform(rng, 0.8, 1.5),
        "variant": choice(rng, ["venetian", "venetian", "roller", "vertical"]),
        "slat_width": uniform(rng, 0.025, 0.05),
        "tilt": uniform(rng, 0.0, 1.0),
        "depth": uniform(rng, 0.04, 0.06),
        "headrail": uniform(rng, 0.03, 0.05),
    }


def build_blinds(p: dict) -> Piece:
    """Blinds (class blinds): horizontal tilted slats under a headrail, a roller blind, or vertical vanes.
    z = 0 is the bottom rail; the back touches the wall (or window frame)."""
    q = with_defaults(p, BLINDS_DEFAULTS)
    w, h, v, hr = q["width"], q["height"], q["variant"], q["headrail"]
    d = max(q["depth"], q["slat_width"] + 0.005)
    yc = -d / 2
    meshes = [bx(-w / 2, w / 2, -d, 0.0, h - hr, h)]
    if v == "roller":
        r = min(hr / 2, 0.025)
        meshes = [
            rod_x(r, -w / 2, w / 2, yc, h - r),
            bx(-w / 2 + 0.01, w / 2 - 0.01, yc - r - 0.002, yc - r, 0.02, h - r),
            bx(-w / 2 + 0.01, w / 2 - 0.01, yc - r - 0.012, yc - r + 0.008, 0.0, 0.02),
        ]
    elif v == "vertical":
        d = 0.09
        meshes = [bx(-w / 2, w / 2, -d, 0.0, h - hr, h)]
        n = max(2, int(w / 0.08))
        pitch = (w - 0.09) / (n - 1)
        for i in range(n):
            meshes.append(
                rotated_box(
                    (0.089, 0.002, h - hr - 0.01),
                    (-w / 2 + 0.045 + i * pitch, -d / 2, (h - hr - 0.01) / 2),
                    yaw=q["tilt"] * 0.8,
                )
            )
    else:
        sw = q["slat_width"]
        pitch = 0.85 * sw
        n = max(2, int((h - hr - 0.02) / pitch))
        slats = [
            rotated_box((w - 0.01, sw, 0.0015), (0.0, yc, 0.02 + (i + 0.5) * pitch), tilt=q["tilt"]) for i in range(n)
        ]
        meshes += slats + [bx(-w / 2 + 0.005, w / 2 - 0.005, yc - sw / 2, yc + sw / 2, 0.0, 0.02)]
    return assemble("blinds", p, [part("blinds", "blinds", meshes)])


SPECS = (
    spec("picture", "picture", "wall_mounted", sample_picture, build_picture, mount_height=(1.1, 1.5)),
    spec("mirror", "mirror", "wall_mounted", sample_mirror, build_mirror, mount_height=(1.1, 1.3), tags=("bathroom",)),
    spec(
        "whiteboard",
        "whiteboard",
        "wall_mounted",
        sample_whiteboard,
        build_whiteboard,
        mount_height=(0.8, 0.9),
        front_clearance=0.6,
        tags=("office",),
    ),
    spec(
        "wall_tv",
        "television",
        "wall_mounted",
        sample_wall_tv,
        build_wall_tv,
        mount_height=(0.7, 1.0),
        front_clearance=0.0,
        tags=("living_room", "bedroom"),
    ),
    spec("door", "door", "opening", sample_door, build_door, mount_height=(0.0, 0.0), front_clearance=0.9),
    spec("window", "window", "opening", sample_window, build_window, mount_height=(0.8, 1.0)),
    spec("curtain", "curtain", "wall_mounted", sample_curtain, build_curtain, tags=("window", "fit_to_window")),
    spec("blinds", "blinds", "wall_mounted", sample_blinds, build_blinds, tags=("window", "fit_to_window")),
)
