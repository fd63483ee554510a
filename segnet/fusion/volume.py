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

from dataclasses import dataclass

import numpy as np

from synthcam_core.camera import Intrinsics
from synthcam_core.errors import InputError, SynthcamError

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
    normals : (N, 3) float32 unit normals (world frame).
    """

    points: np.ndarray
    labels: np.ndarray
    normals: np.ndarray


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
        self._add_evidence(coords.cpu().numpy(), index.cpu().numpy().reshape(-1), depth, extrinsic, intrinsics, labels)
        self.frames += 1

    def _add_evidence(
        self,
        coords: np.ndarray,
        index: np.ndarray,
        depth: np.ndarray,
        extrinsic: np.ndarray,
        intrinsics: Intrinsics,
        labels: np.ndarray,
    ) -> None:
        """Add the class scores of the pixel each voxel projects into, for voxels within ``trunc`` of its depth.

        coords : (N, 3) float32 world metres of the voxels; index : (N,) int64 their flat voxel index.
        """
        rot = extrinsic[:3, :3].astype(np.float32)
        cam = coords @ rot.T + extrinsic[:3, 3].astype(np.float32)
        z = cam[:, 2]
        front = z > 1e-6
        cam, z, index = cam[front], z[front], index[front]
        u = np.floor(cam[:, 0] / z * np.float32(intrinsics.fx) + np.float32(intrinsics.cx))
        v = np.floor(cam[:, 1] / z * np.float32(intrinsics.fy) + np.float32(intrinsics.cy))
        inside = (u >= 0) & (u < intrinsics.width) & (v >= 0) & (v < intrinsics.height)
        pixel = v[inside].astype(np.int64) * intrinsics.width + u[inside].astype(np.int64)
        z, index = z[inside], index[inside]
        observed = depth.reshape(-1)[pixel]
        band = (observed > 0) & (observed <= self.settings.depth_max) & (np.abs(observed - z) < self.settings.trunc)
        pixel, index = pixel[band], index[band]
        evidence = self._evidence()
        if labels.ndim == 2:
            ids = labels.reshape(-1)[pixel].astype(np.int64)
            seen = ids > 0
            evidence[index[seen], ids[seen]] += 1.0  # each voxel once: no repeated (voxel, class) pair
        else:
            evidence[index] += labels.reshape(self.classes, -1)[:, pixel].T.astype(np.float32)
        self._store_evidence(evidence)

    def _evidence(self) -> np.ndarray:
        """(capacity * resolution**3, C) float32 class evidence of every voxel slot (a view on the CPU)."""
        return self._grid.attribute("class").cpu().numpy().reshape(-1, self.classes)

    def _store_evidence(self, evidence: np.ndarray) -> None:
        if self.device.get_type() != self._o3c.Device.DeviceType.CPU:
            attribute = self._grid.attribute("class")
            attribute.copy_from(self._o3c.Tensor.from_numpy(evidence.reshape(tuple(attribute.shape))).to(self.device))

    def render(self, pose: np.ndarray, intrinsics: Intrinsics) -> FusedView:
        """Ray-cast the fused map into the camera at ``pose`` (4, 4 camera-to-world): depth and fused labels."""
        o3c, s = self._o3c, self.settings
        h, w = intrinsics.height, intrinsics.width
        empty = FusedView(np.zeros((h, w), np.float32), np.zeros((h, w), np.uint8))
        if self._grid.hashmap().size() == 0:
            return empty
        k = intrinsics.matrix.copy()
        k[0, 2] -= 0.5  # Open3D's ray for pixel u goes through u, ours through u + 0.5
        k[1, 2] -= 0.5
        blocks = self.active_blocks()
        with self._o3d.utility.VerbosityContextManager(self._o3d.utility.VerbosityLevel.Error):
            result = self._grid.ray_cast(
                blocks,
                o3c.Tensor(k, o3c.float64),
                o3c.Tensor(np.linalg.inv(np.asarray(pose, dtype=np.float64)), o3c.float64),
                w,
                h,
                ["depth", "index", "interp_ratio"],
                1.0,
                0.1,
                s.depth_max,
                1.0,
                self.trunc_voxels,
                8,
            )
        depth = result["depth"].cpu().numpy().reshape(h, w).astype(np.float32)
        hit = depth > 0
        index = result["index"].cpu().numpy().reshape(h, w, 8)[hit]
        ratio = result["interp_ratio"].cpu().numpy().reshape(h, w, 8)[hit]
        labels = np.zeros((h, w), np.uint8)
        labels[hit] = self._classify(index, ratio)
        return FusedView(depth, labels)

    def _classify(self, index: np.ndarray, ratio: np.ndarray) -> np.ndarray:
        """(M,) uint8 argmax class of the evidence of (M, 8) voxels weighted by (M, 8) ratios; 0 = no evidence."""
        evidence = self._evidence()
        total = np.zeros((len(index), self.classes), np.float32)
        for k in range(index.shape[1]):  # 8 corners, each a vectorised gather
            total += evidence[index[:, k]] * ratio[:, k : k + 1]
        best = np.argmax(total, axis=1).astype(np.uint8)
        best[total.max(axis=1) <= 0] = 0
        return best

    def active_blocks(self):
        """(M, 3) int32 Open3D tensor of the block coordinates in use."""
        hashmap = self._grid.hashmap()
        return hashmap.key_tensor()[hashmap.active_buf_indices().to(self._o3c.int64)]

    def extract(self, weight_threshold: float = 1.0) -> LabelledPoints:
        """The map's surface points (zero crossings of the TSDF where at least ``weight_threshold`` frames
        looked) with their normals and fused classes (trilinear vote of the 8 voxels around each point)."""
        if self._grid.hashmap().size() == 0:
            return LabelledPoints(np.zeros((0, 3), np.float32), np.zeros(0, np.uint8), np.zeros((0, 3), np.float32))
        with self._o3d.utility.VerbosityContextManager(self._o3d.utility.VerbosityLevel.Error):
            cloud = self._grid.extract_point_cloud(weight_threshold)
        points = cloud.point.positions.cpu().numpy().astype(np.float32)
        normals = cloud.point.normals.cpu().numpy().astype(np.float32)
        index, ratio = self._corners(points)
        return LabelledPoints(points, self._classify(index, ratio), normals)

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
