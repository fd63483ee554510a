"""The fused map: a TSDF with per-voxel class evidence on Open3D's ``VoxelBlockGrid``.

Each voxel holds ``tsdf`` (float32, truncated signed distance in units of ``trunc``), ``weight`` (float32,
frames that updated it) and ``class`` (float32 (C,), the class evidence summed over frames: one count per
frame for integer labels, the class probabilities for softmax input). Open3D integrates depth; then a label
pass projects every voxel of the frame's blocks into the frame and adds that pixel's class scores to the
voxels within ``trunc`` of the observed depth (the TSDF band), so evidence is weighted as the TSDF is.

Conventions: depth is z-depth in metres (0 = invalid); a pose is a (4, 4) camera-to-world matrix of an
OpenCV camera; pixel (u, v) has its centre at (u + 0.5, v + 0.5) in the image coordinates of ``cx, cy``
(:mod:`synthcam_core.camera`). Open3D's integration looks a voxel up in pixel ``floor(u)`` (the same
convention), but its ray caster shoots pixel ``u``'s ray through ``u`` itself: :meth:`LabelFusion.render`
shifts ``cx, cy`` by half a pixel for it. Voxel ``i`` of the grid sits at ``i * voxel_size``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from synthcam_core.camera import Intrinsics
from synthcam_core.errors import InputError, SynthcamError

PIXEL_CENTRE = 0.5
"""Where a pixel's centre lies in its pixel (our convention); Open3D's ray caster puts it at 0."""
BLOCK_RESOLUTIONS = (4, 8, 16)
"""Voxels per block side Open3D handles well."""


def open3d_module():
    """The ``open3d`` module; an import failure (e.g. a missing ``libusb-1.0-0``) becomes one error line."""
    try:
        import open3d
    except ImportError as exc:
        raise SynthcamError(f"label fusion needs open3d, which cannot be imported ({exc})") from None
    return open3d


@dataclass(frozen=True)
class FusionSettings:
    """Map geometry and device.

    voxel_size : voxel side in metres. trunc : TSDF truncation distance in metres (at least 2 voxels).
    depth_max : farther depth (metres) is ignored. block_resolution : voxels per block side (4, 8 or 16).
    block_count : initial hash capacity in blocks (grows as needed). device : ``"CPU:0"`` or ``"CUDA:0"``.
    """

    voxel_size: float = 0.02
    trunc: float = 0.08
    depth_max: float = 8.0
    block_resolution: int = 8
    block_count: int = 40000
    device: str = "CPU:0"

    def __post_init__(self) -> None:
        if not np.isfinite(self.voxel_size) or self.voxel_size <= 0:
            raise InputError(f"voxel size must be a positive number of metres, got {self.voxel_size}")
        if not np.isfinite(self.trunc) or self.trunc < 2 * self.voxel_size:
            raise InputError(
                f"truncation distance {self.trunc} m is under 2 voxels ({2 * self.voxel_size:g} m); use a larger one"
            )
        if not np.isfinite(self.depth_max) or self.depth_max <= 0:
            raise InputError(f"depth_max must be a positive number of metres, got {self.depth_max}")
        if self.block_resolution not in BLOCK_RESOLUTIONS:
            raise InputError(
                f"block resolution {self.block_resolution} is not one of {', '.join(map(str, BLOCK_RESOLUTIONS))}"
            )
        if isinstance(self.block_count, bool) or not isinstance(self.block_count, int) or self.block_count < 1:
            raise InputError(f"block count must be a positive integer, got {self.block_count!r}")
        if self.device.upper() not in ("CPU:0", "CUDA:0"):
            raise InputError(f"fusion device {self.device!r} is not one of CPU:0, CUDA:0")


@dataclass(frozen=True)
class FusedView:
    """The fused map seen from one camera.

    depth : (H, W) float32 z-depth in metres of the fused surface, 0 = no surface.
    labels : (H, W) uint8 fused class id (argmax of the class evidence there), 0 = no surface or no evidence.
    """

    depth: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class LabelledPoints:
    """Surface points of the fused map.

    points : (N, 3) float32 world metres. labels : (N,) uint8 fused class id (0 = no evidence).
    normals : (N, 3) float32 unit normals (world frame). classes : class ids of the map, void 0 included
    (14 for the 13-class space): what picks the palette.
    """

    points: np.ndarray
    labels: np.ndarray
    normals: np.ndarray
    classes: int = 41


def check_frame(depth: np.ndarray, pose: np.ndarray, intrinsics: Intrinsics, labels: np.ndarray, classes: int) -> None:
    """One-line :class:`InputError` unless the arrays fit :meth:`LabelFusion.integrate`'s contract."""
    size = (intrinsics.height, intrinsics.width)
    if depth.shape != size:
        raise InputError(f"depth has shape {depth.shape}, the camera is {size[1]}x{size[0]}")
    if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
        raise InputError(f"pose must be a finite (4, 4) camera-to-world matrix, got shape {pose.shape}")
    if labels.shape == size:
        if not np.issubdtype(labels.dtype, np.integer):
            raise InputError(f"(H, W) labels must be integer class ids, got {labels.dtype}")
        if labels.size and (labels.min() < 0 or labels.max() >= classes):
            raise InputError(f"labels hold ids {labels.min()}..{labels.max()}, the map has classes 0..{classes - 1}")
    elif labels.shape != (classes, *size):
        raise InputError(
            f"labels have shape {labels.shape}; expected (H, W) class ids or ({classes}, H, W) class probabilities "
            f"for the {size[1]}x{size[0]} camera"
        )


class LabelFusion:
    """A growing TSDF + class-evidence map of ``classes`` class ids (void 0 included, e.g. 14 for 13 classes).

    :meth:`integrate` adds a frame, :meth:`render` ray-casts the map into a camera, :meth:`extract` gives its
    surface points with classes. ``frames`` counts the frames integrated.
    """

    def __init__(self, classes: int, settings: FusionSettings | None = None):
        settings = FusionSettings() if settings is None else settings
        if isinstance(classes, bool) or not isinstance(classes, int | np.integer) or not 2 <= classes <= 256:
            raise InputError(f"classes must be an integer from 2 to 256 (void 0 included), got {classes!r}")
        o3d = open3d_module()
        self._o3d, self._o3c = o3d, o3d.core
        if settings.device.upper().startswith("CUDA") and not o3d.core.cuda.is_available():
            raise InputError(f"fusion device {settings.device} is not available: this Open3D build sees no CUDA GPU")
        self.classes, self.settings = int(classes), settings
        self.device = o3d.core.Device(settings.device.upper())
        f32 = o3d.core.float32
        self._grid = o3d.t.geometry.VoxelBlockGrid(
            attr_names=("tsdf", "weight", "class"),
            attr_dtypes=(f32, f32, f32),
            attr_channels=((1), (1), (self.classes)),
            voxel_size=settings.voxel_size,
            block_resolution=settings.block_resolution,
            block_count=settings.block_count,
            device=self.device,
        )
        self.frames = 0
        self._cast_blocks: dict[tuple[int, int], int] = {}  # active blocks at the last ray cast, per image size
        import torch

        self._torch_module = torch

    @property
    def trunc_voxels(self) -> float:
        """Truncation distance in voxels (Open3D's ``trunc_voxel_multiplier``)."""
        return self.settings.trunc / self.settings.voxel_size

    def integrate(self, depth: np.ndarray, pose: np.ndarray, intrinsics: Intrinsics, labels: np.ndarray) -> None:
        """Add one frame.

        depth : (H, W) float32 metres, 0 = invalid. pose : (4, 4) float64 camera-to-world.
        labels : (H, W) integer class ids (one count of evidence per pixel; 0 = void adds none) or
        (C, H, W) float32 class probabilities (channel 0 = void, added as they are).
        """
        depth = np.ascontiguousarray(depth, dtype=np.float32)
        pose = np.asarray(pose, dtype=np.float64)
        labels = np.asarray(labels)
        check_frame(depth, pose, intrinsics, labels, self.classes)
        o3c = self._o3c
        image = self._o3d.t.geometry.Image(o3c.Tensor.from_numpy(depth).to(self.device))
        k = o3c.Tensor(intrinsics.matrix, o3c.float64)
        extrinsic = np.linalg.inv(pose)
        ext = o3c.Tensor(extrinsic, o3c.float64)
        s = self.settings
        blocks = self._grid.compute_unique_block_coordinates(image, k, ext, 1.0, s.depth_max, self.trunc_voxels)
        self._grid.integrate(blocks, image, k, ext, 1.0, s.depth_max, self.trunc_voxels)
        buf, found = self._grid.hashmap().find(blocks)
        coords, index = self._grid.voxel_coordinates_and_flattened_indices(buf[found].to(o3c.int32))
        with self._torch_threads():
            self._add_evidence(
                self._torch(coords), self._torch(index).reshape(-1), depth, extrinsic, intrinsics, labels
            )
        self.frames += 1

    @contextmanager
    def _torch_threads(self):
        """One torch thread on the CPU for the duration: Open3D's OpenMP threads and torch's would otherwise
        spin against each other (ten times slower on 2 cores)."""
        torch = self._torch_module
        threads = torch.get_num_threads()
        if self.device.get_type() == self._o3c.Device.DeviceType.CPU:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)

    def _torch(self, tensor):
        """The torch view (no copy, same device) of an Open3D tensor."""
        return self._torch_module.utils.dlpack.from_dlpack(tensor.to_dlpack())

    def _evidence(self):
        """(capacity * resolution**3, C) float32 torch view on the class evidence of every voxel slot."""
        return self._torch(self._grid.attribute("class")).reshape(-1, self.classes)

    def _add_evidence(self, coords, index, depth: np.ndarray, extrinsic: np.ndarray, intrinsics: Intrinsics, labels):
        """Add the class scores of the pixel each voxel projects into, to the voxels within ``label_band`` of
        that pixel's depth.

        coords : (N, 3) float32 torch tensor of the voxels' world metres; index : (N,) int64 their flat voxel
        index; both on the map's device. depth, labels : the frame's arrays (:meth:`integrate`).
        """
        torch = self._torch_module
        device = coords.device
        rot = torch.from_numpy(extrinsic[:3, :3].T.astype(np.float32)).to(device)
        cam = torch.addmm(torch.from_numpy(extrinsic[:3, 3].astype(np.float32)).to(device), coords, rot)
        z = cam[:, 2].clamp_min(1e-6)
        u = torch.floor(cam[:, 0] / z * intrinsics.fx + intrinsics.cx)
        v = torch.floor(cam[:, 1] / z * intrinsics.fy + intrinsics.cy)
        w, h = intrinsics.width, intrinsics.height
        keep = (cam[:, 2] > 1e-6) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
        pixel = (v.clamp(0, h - 1) * w + u.clamp(0, w - 1)).long()
        observed = torch.from_numpy(depth).to(device).reshape(-1)[pixel]
        keep &= (observed > 0) & (observed <= self.settings.depth_max) & ((observed - z).abs() < self.settings.trunc)
        evidence = self._evidence()
        if labels.ndim == 2:
            ids = torch.from_numpy(labels.astype(np.int64, copy=False)).to(device).reshape(-1)[pixel]
            at = (keep & (ids > 0)).nonzero().reshape(-1)
            ones = torch.ones(len(at), dtype=evidence.dtype, device=device)
            evidence.index_put_((index[at], ids[at]), ones, accumulate=True)
        else:
            at = keep.nonzero().reshape(-1)
            scores = torch.from_numpy(np.ascontiguousarray(labels, dtype=np.float32)).to(device)
            evidence.index_add_(0, index[at], scores.reshape(self.classes, -1)[:, pixel[at]].T)

    def render(self, pose: np.ndarray, intrinsics: Intrinsics) -> FusedView:
        """Ray-cast the fused map into the camera at ``pose`` (4, 4 camera-to-world): depth and fused labels."""
        o3c, s = self._o3c, self.settings
        h, w = intrinsics.height, intrinsics.width
        empty = FusedView(np.zeros((h, w), np.float32), np.zeros((h, w), np.uint8))
        if self._grid.hashmap().size() == 0:
            return empty
        k = intrinsics.matrix.copy()
        k[0, 2] -= PIXEL_CENTRE  # Open3D's ray for pixel u goes through u, ours through u + 0.5
        k[1, 2] -= PIXEL_CENTRE
        blocks = self.active_blocks()
        args = (o3c.Tensor(k, o3c.float64), o3c.Tensor(self.raycast_extrinsic(pose), o3c.float64), w, h)
        options = (["depth", "index", "interp_ratio"], 1.0, 0.1, s.depth_max, 1.0, self.trunc_voxels, 8)
        with self._o3d.utility.VerbosityContextManager(self._o3d.utility.VerbosityLevel.Error):
            if len(blocks) > self._cast_blocks.get((w, h), 0) * 9 // 8:
                # Open3D sizes its range-map buffer by the previous cast: a cast that needs much more space
                # than the last one leaves part of the image empty, so cast once first to grow it.
                self._grid.ray_cast(blocks, *args, *options)
                self._cast_blocks[(w, h)] = len(blocks)
            result = self._grid.ray_cast(blocks, *args, *options)
        with self._torch_threads():
            depth = self._torch(result["depth"]).reshape(h, w)
            hit = (depth > 0).reshape(-1)
            index = self._torch(result["index"]).reshape(-1, 8)[hit]
            ratio = self._torch(result["interp_ratio"]).reshape(-1, 8)[hit]
            labels = np.zeros(h * w, np.uint8)
            labels[hit.cpu().numpy()] = self._classify(index, ratio)
            return FusedView(depth.cpu().numpy().astype(np.float32), labels.reshape(h, w))

    def raycast_extrinsic(self, pose: np.ndarray) -> np.ndarray:
        """(4, 4) float64 world-to-camera matrix for Open3D's ray caster, which reads voxel ``floor(x / size)``
        at ``x``: seen half a voxel shifted, it reads the nearest voxel (voxel ``i`` holds the TSDF at
        ``i * size``), so the surface is not biased by up to a voxel."""
        shift = np.eye(4)
        shift[:3, 3] = -0.5 * self.settings.voxel_size
        return np.linalg.inv(np.asarray(pose, dtype=np.float64)) @ shift

    def _classify(self, index, ratio) -> np.ndarray:
        """(M,) uint8 argmax class of the evidence of (M, 8) voxels (int64 flat index) weighted by (M, 8)
        float32 ratios (torch tensors on the map's device); 0 where there is no evidence."""
        torch = self._torch_module
        evidence = self._evidence()
        total = torch.zeros((len(index), self.classes), dtype=evidence.dtype, device=evidence.device)
        for k in range(index.shape[1]):  # 8 corners, each a vectorised gather
            total.addcmul_(evidence[index[:, k]], ratio[:, k : k + 1])
        best, top = total.max(dim=1)
        return torch.where(best > 0, top, 0).to(torch.uint8).cpu().numpy()

    def active_blocks(self):
        """(M, 3) int32 Open3D tensor of the block coordinates in use."""
        hashmap = self._grid.hashmap()
        return hashmap.key_tensor()[hashmap.active_buf_indices().to(self._o3c.int64)]

    def extract(self, weight_threshold: float = 1.0) -> LabelledPoints:
        """The map's surface points (zero crossings of the TSDF where at least ``weight_threshold`` frames
        looked) with their normals and fused classes (trilinear vote of the 8 voxels around each point)."""
        if self._grid.hashmap().size() == 0:
            none = np.zeros((0, 3), np.float32)
            return LabelledPoints(none, np.zeros(0, np.uint8), none.copy(), self.classes)
        with self._o3d.utility.VerbosityContextManager(self._o3d.utility.VerbosityLevel.Error):
            cloud = self._grid.extract_point_cloud(weight_threshold)
        points = cloud.point.positions.cpu().numpy().astype(np.float32)
        normals = cloud.point.normals.cpu().numpy().astype(np.float32)
        index, ratio = self._corners(points)
        device = self._evidence().device
        with self._torch_threads():
            torch = self._torch_module
            labels = self._classify(torch.from_numpy(index).to(device), torch.from_numpy(ratio).to(device))
        return LabelledPoints(points, labels, normals, self.classes)

    def _corners(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 8) int64 flat voxel index and (N, 8) float32 trilinear weight of the voxels around each of the
        (N, 3) world points (weight 0 where the voxel's block is not in the map)."""
        o3c, res = self._o3c, self.settings.block_resolution
        grid = points.astype(np.float64) / self.settings.voxel_size
        base = np.floor(grid).astype(np.int64)
        frac = (grid - base).astype(np.float32)
        index = np.zeros((len(points), 8), np.int64)
        ratio = np.zeros((len(points), 8), np.float32)
        for k in range(8):
            step = np.array([k & 1, (k >> 1) & 1, (k >> 2) & 1])
            voxel = base + step
            block = np.floor_divide(voxel, res)
            local = voxel - block * res
            buf, found = self._grid.hashmap().find(o3c.Tensor(block.astype(np.int32)).to(self.device))
            found_np = found.cpu().numpy()
            flat = buf.cpu().numpy().astype(np.int64) * res**3 + (local[:, 2] * res + local[:, 1]) * res + local[:, 0]
            index[:, k] = np.where(found_np, flat, 0)
            weight = np.prod(np.where(step == 1, frac, 1.0 - frac), axis=1)
            ratio[:, k] = np.where(found_np, weight, 0.0)
        return index, ratio

    def memory_bytes(self) -> int:
        """Bytes held by the map's voxel blocks (hash capacity, all attributes)."""
        per_voxel = 4 * (2 + self.classes)
        capacity = int(self._grid.hashmap().capacity())
        return capacity * self.settings.block_resolution**3 * per_voxel


def point_colors(labels: np.ndarray, classes: int) -> np.ndarray:
    """(N, 3) uint8 RGB of (N,) class ids in the palette of every picture (:mod:`synthcam_core.palette`):
    the 13-, 37- or 40-class space for 14, 38 or 41 ids; NYU40 colours by id for any other count."""
    from synthcam_core.palette import CLASS_SPACES, class_colors, nyu40_colors

    if classes - 1 in CLASS_SPACES:
        table = class_colors(classes - 1)
    else:
        table = np.round(nyu40_colors()[np.arange(classes) % 41] * 255).astype(np.uint8)
    return table[np.minimum(labels, classes - 1)]


PLY_VERTEX = np.dtype(
    [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
    + [("red", "u1"), ("green", "u1"), ("blue", "u1"), ("class", "u1")]
)
"""One vertex of :func:`write_ply`: position (m) and normal as float32, palette colour and class id as uint8."""


def write_ply(path: Path, points: LabelledPoints, option: str = "--out") -> Path:
    """Write ``points`` as a binary little-endian PLY (:data:`PLY_VERTEX` per vertex) at ``path``, atomically:
    an interrupted write leaves the previous file or none, never half a PLY. ``option`` names ``path`` in errors."""
    from synthcam_core.atomic_file import write_atomic

    path = Path(path)
    vertices = np.empty(len(points.points), PLY_VERTEX)
    for axis, name in enumerate("xyz"):
        vertices[name] = points.points[:, axis]
        vertices[f"n{name}"] = points.normals[:, axis]
    rgb = point_colors(points.labels, points.classes)
    vertices["red"], vertices["green"], vertices["blue"] = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    vertices["class"] = points.labels
    properties = "".join(
        f"property {'float' if vertices.dtype[name].kind == 'f' else 'uchar'} {name}\n"
        for name in PLY_VERTEX.names or ()
    )
    header = f"ply\nformat binary_little_endian 1.0\nelement vertex {len(vertices)}\n{properties}end_header\n"

    def write(file: BinaryIO) -> None:
        file.write(header.encode("ascii"))
        file.write(vertices.tobytes())

    write_atomic(path, write, option)
    return path


TOPDOWN_MAX_SIDE = 800
"""Longest side in pixels of the map in :func:`topdown_picture`."""
TOPDOWN_CELL = 0.02
"""Smallest side in metres of a top-down map cell (then drawn enlarged): the spacing of 2 cm voxels' points."""


def topdown_picture(points: LabelledPoints, path: Path, class_names: Sequence[str], option: str = "--out") -> Path:
    """Write a PNG of the points seen from above (world z up, x to the right, y up), each pixel the colour of
    the highest point in it below the ceiling (points named ``ceiling`` are left out), with a legend of the
    classes shown; white where there is nothing. ``class_names`` names ids 0..classes - 1. Atomic."""
    import cv2

    from synthcam_core.atomic_file import write_atomic
    from synthcam_core.palette import LegendItem, legend_strip

    keep = np.ones(len(points.labels), bool)
    if "ceiling" in class_names:
        keep &= points.labels != list(class_names).index("ceiling")
    xyz, labels = points.points[keep], points.labels[keep]
    side = TOPDOWN_MAX_SIDE
    image: np.ndarray = np.full((side // 2, side, 3), 255, np.uint8)
    if len(xyz):
        low, high = xyz[:, :2].min(axis=0), xyz[:, :2].max(axis=0)
        cell = max(float((high - low).max()) / (side - 1), TOPDOWN_CELL)  # metres a pixel: no gaps between points
        width, height = (np.floor((high - low) / cell).astype(int) + 1).tolist()
        image = np.full((height, width, 3), 255, np.uint8)
        order = np.argsort(xyz[:, 2], kind="stable")  # highest last: it covers what lies below it
        col = np.floor((xyz[order, 0] - low[0]) / cell).astype(int)
        row = height - 1 - np.floor((xyz[order, 1] - low[1]) / cell).astype(int)
        image[row, col] = point_colors(labels[order], points.classes)
        zoom = max(1, side // max(width, height))
        image = cv2.resize(image, (width * zoom, height * zoom), interpolation=cv2.INTER_NEAREST)
    rgb = point_colors(np.arange(points.classes, dtype=np.uint8), points.classes)
    shown = np.bincount(labels, minlength=points.classes)
    items = [
        LegendItem(
            int(i), class_names[i], (rgb[i, 0] / 255, rgb[i, 1] / 255, rgb[i, 2] / 255), shown[i] / max(len(labels), 1)
        )
        for i in np.argsort(-shown, kind="stable")
        if shown[i] and i > 0
    ]
    picture = np.concatenate([image, legend_strip(items, image.shape[1], "classes:")], axis=0)
    ok, png = cv2.imencode(".png", np.ascontiguousarray(picture[..., ::-1]))
    if not ok:
        raise SynthcamError(f"could not encode the top-down picture for {path}")
    write_atomic(Path(path), lambda file: file.write(png.tobytes()), option)
    return Path(path)
