"""Folders of real depth frames: uint16 millimetre PNGs, read as the yardstick for generated data.

A folder holds frames named by a stem and a role suffix (the layout of ``../shared/data/real/``):

- ``NAME_raw.png`` (or a plain ``NAME.png``): raw sensor depth, uint16 millimetres, 0 = missing;
- ``NAME_depth.png``: filled (in-painted) depth of the same frame, uint16 millimetres;
- ``NAME_label13.png`` / ``NAME_label40.png``: 8- or 16-bit class ids (13-class or NYU40), 0 = void.

The camera comes from ``--intrinsics`` (a named camera or ``fx,fy,cx,cy``) or from a small
``intrinsics.yaml`` beside the PNGs (``fx: ..``, ``fy: ..``, ``cx: ..``, ``cy: ..`` in pixels of
these images). Sizes, bit depths and colour types are read from each PNG's header before any image is
decoded, so a folder of mixed sizes, an 8-bit depth PNG or an oversized image is refused up front.
Frames are decoded one at a time (:meth:`RealFolder.frames`), so memory stays that of one frame.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthcam_core.camera import MAX_IMAGE_SIDE, MIN_IMAGE_SIDE, Intrinsics
from synthcam_core.errors import SynthcamError

KINDS = ("raw", "filled")
"""Which depth of a folder to read: the raw sensor depth or the filled (in-painted) depth."""

LABEL_SPACES = (13, 40)
"""Class spaces a folder's label PNGs may be given in (``_label13``, ``_label40``)."""

INTRINSICS_FILE = "intrinsics.yaml"
MAX_INTRINSICS_BYTES = 4096
FOCAL_RANGE = (0.05, 50.0)
"""Focal lengths accepted, in multiples of the image's longer side (fields of view of about 1 to 170 degrees)."""
MAX_REAL_FRAMES = 5000
"""Most frames read from one folder (a realism measure streams them; the bound keeps run time finite)."""

_RAW_SUFFIX, _FILLED_SUFFIX = "_raw", "_depth"
_LABEL_SUFFIXES = {13: "_label13", 40: "_label40"}

#: Named cameras at their native image size; other sizes scale them (:meth:`Intrinsics.scaled`).
CAMERAS: dict[str, Intrinsics] = {
    "nyuv2": Intrinsics.nyuv2(),
    # SUN RGB-D's Kinect v2 frames at 730x530 (``../shared/data/real/README.md``).
    "sunrgbd_kv2": Intrinsics(730, 530, 529.5, 529.5, 365.0, 265.0),
}


@dataclass(frozen=True)
class RealFrame:
    """One real frame; every image is (H, W).

    depth : float32 metres of the chosen kind, 0 = missing; reference : float32 metres of the filled
    depth (the frame's own depth when ``depth`` is filled; for raw depth the filled PNG of the same stem,
    or None without one); label13,
    label40 : uint8 class ids (0 = void) or None.
    """

    name: str
    depth: np.ndarray
    reference: np.ndarray | None = None
    label13: np.ndarray | None = None
    label40: np.ndarray | None = None


@dataclass(frozen=True)
class RealFolder:
    """The frames of a folder (checked, not yet decoded): their stems, image size and camera."""

    path: Path
    kind: str
    intrinsics: Intrinsics
    stems: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.stems)

    @property
    def has_reference(self) -> bool:
        """Whether every frame has a filled reference: always for filled depth (its own), for raw depth
        when every frame has a filled partner (``NAME_depth.png``)."""
        return self.kind == "filled" or all(_file(self.path, s, _FILLED_SUFFIX).is_file() for s in self.stems)

    def has_labels(self, classes: int) -> bool:
        """Whether every frame has a label PNG in ``classes`` (13 or 40)."""
        return all(_file(self.path, s, _LABEL_SUFFIXES[classes]).is_file() for s in self.stems)

    def frames(self, labels: bool = False) -> Iterator[RealFrame]:
        """Decode the frames one at a time (with their labels when ``labels`` is True)."""
        size = (self.intrinsics.height, self.intrinsics.width)
        for stem in self.stems:
            depth_file = self.depth_file(stem)
            depth = _depth_metres(read_png(depth_file, size, "depth"))
            reference = depth if self.kind == "filled" else None
            if self.kind == "raw" and _file(self.path, stem, _FILLED_SUFFIX).is_file():
                reference = _depth_metres(read_png(_file(self.path, stem, _FILLED_SUFFIX), size, "depth"))
            found = {}
            if labels:
                for classes, suffix in _LABEL_SUFFIXES.items():
                    path = _file(self.path, stem, suffix)
                    if path.is_file():
                        found[classes] = _labels(read_png(path, size, "label"), classes, path)
            yield RealFrame(stem, depth, reference, found.get(13), found.get(40))

    def depth_file(self, stem: str) -> Path:
        if self.kind == "filled":
            return _file(self.path, stem, _FILLED_SUFFIX)
        raw = _file(self.path, stem, _RAW_SUFFIX)
        return raw if raw.is_file() else self.path / f"{stem}.png"


def _file(folder: Path, stem: str, suffix: str) -> Path:
    return folder / f"{stem}{suffix}.png"


def _depth_metres(mm: np.ndarray) -> np.ndarray:
    return mm.astype(np.float32) * np.float32(0.001)


def _labels(ids: np.ndarray, classes: int, path: Path) -> np.ndarray:
    if int(ids.max(initial=0)) > classes:
        raise SynthcamError(
            f"{path} has class id {int(ids.max())}, beyond the {classes} classes its name says; "
            f"fix the file or rename it"
        )
    return ids.astype(np.uint8)


def open_real_folder(path: str | Path, kind: str = "raw", intrinsics: str | None = None) -> RealFolder:
    """Check a folder of real depth PNGs (module docstring) and return it, frames not yet decoded.

    kind : ``"raw"`` (``NAME_raw.png`` and plain ``NAME.png``) or ``"filled"`` (``NAME_depth.png``);
    intrinsics : a name of :data:`CAMERAS`, ``"fx,fy,cx,cy"`` in pixels, or None to read
    ``intrinsics.yaml`` from the folder. Raises :class:`SynthcamError` with what to do otherwise.
    """
    folder = Path(path)
    if kind not in KINDS:
        raise SynthcamError(f"unknown real depth kind {kind!r}; choose one of {', '.join(KINDS)}")
    if not folder.is_dir():
        raise SynthcamError(f"real folder {folder} does not exist or is not a directory; pass a folder of depth PNGs")
    stems = _stems(folder, kind)
    if not stems:
        wanted = "NAME_raw.png or NAME.png" if kind == "raw" else "NAME_depth.png"
        raise SynthcamError(
            f"{folder} holds no {kind} depth PNGs ({wanted}, uint16 millimetres); "
            f"pass a folder of depth PNGs{' or --real-depth filled' if kind == 'raw' else ''}"
        )
    if len(stems) > MAX_REAL_FRAMES:
        raise SynthcamError(
            f"{folder} holds {len(stems)} depth PNGs; at most {MAX_REAL_FRAMES} are read, pass a folder with fewer"
        )
    probe = RealFolder(folder, kind, CAMERAS["nyuv2"], tuple(stems))
    sizes: dict[tuple[int, int], str] = {}
    for stem in stems:
        files = [(probe.depth_file(stem), "depth")]
        if kind == "raw":
            files.append((_file(folder, stem, _FILLED_SUFFIX), "depth"))
        files += [(_file(folder, stem, s), "label") for s in _LABEL_SUFFIXES.values()]
        for file, role in files:
            if file.is_file() or file == files[0][0]:
                width, height = png_header(file, role)
                sizes.setdefault((width, height), file.name)
    if len(sizes) > 1:
        shown = ", ".join(f"{w}x{h} ({name})" for (w, h), name in list(sizes.items())[:3])
        raise SynthcamError(f"{folder} mixes image sizes: {shown}; put frames of one sensor and size in a folder")
    ((width, height),) = sizes
    return RealFolder(folder, kind, resolve_intrinsics(intrinsics, folder, width, height), tuple(stems))


def _stems(folder: Path, kind: str) -> list[str]:
    names = []
    for entry in folder.iterdir():
        if entry.suffix.lower() != ".png":
            continue
        if entry.suffix != ".png":
            raise SynthcamError(
                f"{entry} ends in {entry.suffix}; name real frames with a lower-case .png "
                "(NAME_raw.png, NAME_depth.png, NAME_label13.png)"
            )
        if not entry.is_file():
            raise SynthcamError(
                f"{entry} is not a regular file (a directory, device, pipe or broken link); "
                "remove it from the folder or replace it with a PNG file"
            )
        names.append(entry.name)
    names.sort()
    stems = []
    for name in names:
        stem = name[:-4]
        if kind == "filled":
            if stem.endswith(_FILLED_SUFFIX):
                stems.append(stem[: -len(_FILLED_SUFFIX)])
        elif stem.endswith(_RAW_SUFFIX):
            stems.append(stem[: -len(_RAW_SUFFIX)])
        elif not stem.endswith((_FILLED_SUFFIX, *_LABEL_SUFFIXES.values())):
            stems.append(stem)
    return sorted(set(stems))


def resolve_intrinsics(intrinsics: str | None, folder: Path | None, width: int, height: int) -> Intrinsics:
    """The camera of ``width`` x ``height`` images: a named camera (scaled), ``"fx,fy,cx,cy"``, or the
    folder's ``intrinsics.yaml`` when ``intrinsics`` is None."""
    if intrinsics is None:
        if (
            folder is not None
            and os.path.lexists(folder / INTRINSICS_FILE)
            and not (folder / INTRINSICS_FILE).is_file()
        ):
            raise SynthcamError(
                f"{folder / INTRINSICS_FILE} is not a regular file; write fx, fy, cx, cy there or pass --intrinsics"
            )
        if folder is None or not (folder / INTRINSICS_FILE).is_file():
            raise SynthcamError(
                f"no camera for the frames in {folder}: pass --intrinsics "
                f"({', '.join(CAMERAS)} or fx,fy,cx,cy) or write {INTRINSICS_FILE} beside the PNGs"
            )
        values = _read_intrinsics_yaml(folder / INTRINSICS_FILE)
    elif intrinsics in CAMERAS:
        return CAMERAS[intrinsics].scaled(width, height)
    else:
        parts = intrinsics.split(",")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != 4:
            raise SynthcamError(
                f"intrinsics {intrinsics[:60]!r} is neither a camera name ({', '.join(CAMERAS)}) "
                "nor fx,fy,cx,cy in pixels, e.g. 518.9,519.5,325.6,253.7"
            )
    fx, fy, cx, cy = values
    side = max(width, height)
    lo, hi = FOCAL_RANGE[0] * side, FOCAL_RANGE[1] * side
    if (
        not all(math.isfinite(v) for v in values)
        or not (lo <= fx <= hi and lo <= fy <= hi)
        or not (0 <= cx <= width and 0 <= cy <= height)
    ):
        raise SynthcamError(
            f"intrinsics fx={fx:g}, fy={fy:g}, cx={cx:g}, cy={cy:g} do not fit {width}x{height} "
            f"images: focal lengths must lie in {lo:g}..{hi:g} pixels ({FOCAL_RANGE[0]:g} to "
            f"{FOCAL_RANGE[1]:g} times the longer side) and the principal point inside the image"
        )
    return Intrinsics(width, height, fx, fy, cx, cy)


def _read_intrinsics_yaml(path: Path) -> list[float]:
    """[fx, fy, cx, cy] from an ``intrinsics.yaml`` read strictly (no aliases, no duplicate or unknown keys)."""
    from synthcam_core.strict_yaml import StrictFormat, parse_yaml

    if path.stat().st_size > MAX_INTRINSICS_BYTES:
        raise SynthcamError(
            f"{path} is larger than {MAX_INTRINSICS_BYTES} bytes; it holds four numbers: fx, fy, cx, cy"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SynthcamError(
            f"{path} is not UTF-8 text; write fx, fy, cx, cy (pixels) as YAML, e.g. 'fx: 518.9'"
        ) from None
    fmt = StrictFormat(
        "intrinsics file",
        SynthcamError,
        nesting="it holds four numbers fx, fy, cx, cy",
        alias_advice="write each number out",
    )
    data = parse_yaml(text, path, fmt)
    keys = ("fx", "fy", "cx", "cy")
    if not isinstance(data, dict) or not all(k in data for k in keys):
        raise SynthcamError(f"{path} must be a YAML mapping with numbers fx, fy, cx, cy (pixels), e.g. 'fx: 518.9'")
    extra = [str(k)[:20] for k in data if k not in keys]
    if extra:
        raise SynthcamError(f"{path} has unknown key(s) {', '.join(extra[:4])}; it holds only fx, fy, cx, cy (pixels)")
    values = []
    for k in keys:
        value = data[k]
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
        if number is None:
            hint = ""
            if isinstance(value, str):
                try:
                    float(value)
                    hint = " (YAML reads it as text; write a plain number such as 518.9 or 5.0e+2)"
                except ValueError:
                    pass
            raise SynthcamError(f"{path}: {k} must be a number of pixels, got {str(value)[:30]!r}{hint}")
        values.append(number)
    return values


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_header(path: Path, role: str) -> tuple[int, int]:
    """(width, height) of a PNG after checking its header: a grayscale image, 16-bit for depth
    (8 or 16 for labels), each side within the project's image limits."""
    try:
        with open(path, "rb") as f:
            head = f.read(33)
    except OSError as exc:
        raise SynthcamError(f"cannot read {path}: {exc.strerror}; check the file") from None
    if (
        len(head) < 33
        or head[:8] != _PNG_SIGNATURE
        or head[12:16] != b"IHDR"
        or zlib.crc32(head[12:29]) != struct.unpack(">I", head[29:33])[0]
    ):
        raise SynthcamError(f"{path} is not a PNG file (or its header is damaged); pass {role} PNGs")
    width, height, bits, colour = struct.unpack(">IIBB", head[16:26])
    if colour != 0:
        raise SynthcamError(f"{path} is a colour PNG; {role} PNGs must be single-channel (grayscale)")
    if role == "depth" and bits != 16:
        raise SynthcamError(f"{path} is a {bits}-bit PNG; depth PNGs must be 16-bit millimetres (uint16)")
    if role == "label" and bits not in (8, 16):
        raise SynthcamError(f"{path} is a {bits}-bit PNG; label PNGs must be 8- or 16-bit class ids")
    if not (MIN_IMAGE_SIDE <= width <= MAX_IMAGE_SIDE and MIN_IMAGE_SIDE <= height <= MAX_IMAGE_SIDE):
        raise SynthcamError(
            f"{path} is {width}x{height}; images must be {MIN_IMAGE_SIDE}..{MAX_IMAGE_SIDE} pixels a side"
        )
    return width, height


def read_png(path: Path, size: tuple[int, int], role: str) -> np.ndarray:
    """(H, W) uint16 (depth) or uint8/uint16 (labels) image of a PNG whose header was checked; ``size``
    is the (height, width) every image of the folder has. Decoded with Pillow, which reports damaged
    data (a truncated file, a broken data stream) as an exception rather than on the console."""
    from PIL import Image

    png_header(path, role)
    try:
        with Image.open(path, formats=["PNG"]) as image:
            image.load()
            array = np.array(image)
    except (OSError, ValueError, SyntaxError, EOFError, zlib.error, Image.DecompressionBombError):
        array = None
    if array is None or array.ndim != 2 or array.shape != size:
        raise SynthcamError(
            f"{path} cannot be decoded as a {size[1]}x{size[0]} single-channel PNG; the file is damaged"
        )
    if array.dtype != np.uint8:  # 16-bit grayscale: Pillow's "I;16" (uint16) or "I" (int32) holds 0..65535
        array = array.astype(np.uint16)
    return array
