"""The fused map: a TSDF with per-voxel class evidence on Open3D's ``VoxelBlockGrid``.

Each voxel holds ``tsdf`` (float32, truncated signed distance in units of ``trunc``), ``weight`` (float32,
frames that updated it) and ``class`` (float32 (C,), the class evidence summed over frames: one count per
frame for integer labels, the class probabilities for softmax input). Open3D integrates depth; then a label
pass projects every voxel of the frame's blocks into the frame and adds that pixel's class scores to the
voxels within ``label_band`` (1.5 voxels by default) of the observed depth: the voxels of the surface seen.

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

PIXEL_CENTRE = 0.5
"""Where a pixel's centre lies in its pixel (our convention); Open3D's ray caster puts it at 0."""
BLOCK_RESOLUTIONS = (4, 8, 16)
"""Voxels per block side Open3D handles well."""
CORNERS = np.array([[k & 1, (k >> 1) & 1, (k >> 2) & 1] for k in range(8)], np.int64)
"""(8, 3) offsets of a cell's corners in Open3D's order (x fastest): the 8 voxels around a point, a block's
8 corners."""
RANGE_DOWN = (8, 4, 2, 1)
"""How many times coarser than the image Open3D's ray caster bounds its rays (its range map): the first that
divides both sides (Open3D reads past the end of its range map for the pixels of a partial last cell)."""
INITIAL_MAP_BYTES = 512 * 2**20
"""What a new map allocates by default (16,384 blocks of 8³ voxels at 14 classes); it doubles when full."""
FRAGMENT_SIDE = 2048
"""Side in pixels of the image of the cast that sizes Open3D's range-fragment buffer (819,200 fragments of
16x16 range-map pixels at 2 cm voxels; a 320x240 view of a room needs a few thousand)."""


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
    block_count : initial hash capacity in blocks; it doubles when full, a costly copy of every block (at 2 cm
    voxels a 60-frame walk through a generated room fills about 6,500 blocks, a 1,000-frame one up to
    32,768). None: as many as :data:`INITIAL_MAP_BYTES` hold (16,384 at 14 classes, 6,096 at 41).
    device : ``"CPU:0"`` or ``"CUDA:0"``.
    label_band : metres either side of a pixel's depth within which voxels take its class evidence (default
    1.5 voxels: a wider band lets a surface take the classes of another close in front of it, 0.1 to 0.2
    points of agreement with the rendered labels on generated rooms at 8 cm).
    """

    voxel_size: float = 0.02
    trunc: float = 0.08
    depth_max: float = 8.0
    block_resolution: int = 8
    block_count: int | None = None
    device: str = "CPU:0"
    label_band: float | None = None

    @property
    def band(self) -> float:
        """Metres either side of a pixel's depth within which a voxel takes the pixel's class evidence."""
        return 1.5 * self.voxel_size if self.label_band is None else self.label_band

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
        count = self.block_count
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise InputError(f"block count must be a positive integer, got {self.block_count!r}")
        if self.label_band is not None and not 0.5 * self.voxel_size <= self.label_band <= self.trunc:
            raise InputError(
                f"label band {self.label_band} m is not between half a voxel ({0.5 * self.voxel_size:g} m) "
                f"and the truncation distance ({self.trunc:g} m)"
            )
        if self.device.upper() not in ("CPU:0", "CUDA:0"):
            raise InputError(f"fusion device {self.device!r} is not one of CPU:0, CUDA:0")


def initial_blocks(classes: int, settings: FusionSettings) -> int:
    """Blocks a new map has room for: ``settings.block_count``, or as many as :data:`INITIAL_MAP_BYTES` hold
    at 4 bytes a voxel for the TSDF, the weight and each class (void included)."""
    if settings.block_count is not None:
        return settings.block_count
    return max(INITIAL_MAP_BYTES // (4 * (2 + classes) * settings.block_resolution**3), 1024)


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
            block_count=initial_blocks(self.classes, settings),
            device=self.device,
        )
        self.frames = 0
        self._fragments = 0  # range-map fragments Open3D's ray caster has room for (:meth:`_reserve_fragments`)
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
        self._add_evidence(self._torch(coords), self._torch(index).reshape(-1), depth, extrinsic, intrinsics, labels)
        self.frames += 1

    def _torch(self, tensor):
        """The torch view (no copy, same device) of an Open3D tensor."""
        return self._torch_module.utils.dlpack.from_dlpack(tensor.to_dlpack())

    def _evidence(self):
        """(capacity * resolution**3, C) float32 torch view on the class evidence of every voxel slot."""
        return self._torch(self._grid.attribute("class")).reshape(-1, self.classes)

    def _add_evidence(self, coords, index, depth: np.ndarray, extrinsic: np.ndarray, intrinsics: Intrinsics, labels):
        """Add the class scores of the pixel each voxel projects into, to the voxels within ``settings.band`` of
        that pixel's depth.

        coords : (N, 3) float32 torch tensor of the voxels' world metres; index : (N,) int64 their flat voxel
        index; both on the map's device. depth, labels : the frame's arrays (:meth:`integrate`).
        """
        torch = self._torch_module
        device = coords.device
        # one (N, 3) product gives (u z, v z, z): the camera matrix times the world-to-camera transform
        project = (intrinsics.matrix @ extrinsic[:3]).astype(np.float32)
        uvz = torch.addmm(
            torch.from_numpy(project[:, 3]).to(device), coords, torch.from_numpy(project[:, :3].T.copy()).to(device)
        )
        z = uvz[:, 2]
        inv_z = z.clamp_min(1e-6).reciprocal()
        u = (uvz[:, 0] * inv_z).floor_()
        v = (uvz[:, 1] * inv_z).floor_()
        w, h = intrinsics.width, intrinsics.height
        keep = (z > 1e-6) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
        pixel = v.clamp_(0, h - 1).mul_(w).add_(u.clamp_(0, w - 1)).long()
        observed = torch.from_numpy(depth).to(device).reshape(-1)[pixel]
        keep &= (observed > 0) & (observed <= self.settings.depth_max) & ((observed - z).abs_() < self.settings.band)
        evidence = self._evidence()
        # a voxel projects into one pixel: the indices below are unique, so a gather, add and store suffice
        if labels.ndim == 2:
            ids = torch.from_numpy(labels.astype(np.int64, copy=False)).to(device).reshape(-1)[pixel]
            at = (keep & (ids > 0)).nonzero().reshape(-1)
            where = (index[at], ids[at])
            evidence.index_put_(where, evidence[where] + 1.0)
        else:
            at = keep.nonzero().reshape(-1)
            scores = torch.from_numpy(np.ascontiguousarray(labels.reshape(self.classes, -1).T, dtype=np.float32))
            rows = index[at]
            evidence.index_put_((rows,), evidence[rows] + scores.to(device)[pixel[at]])

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
        extrinsic = self.raycast_extrinsic(pose)
        args = (o3c.Tensor(k, o3c.float64), o3c.Tensor(extrinsic, o3c.float64), w, h)
        options = (["depth", "index", "interp_ratio"], 1.0, 0.1, s.depth_max, 1.0, self.trunc_voxels)
        keys = blocks.cpu().numpy()
        down = next(d for d in RANGE_DOWN if w % d == 0 and h % d == 0)
        need = self.range_fragments(keys, k, extrinsic, w, h, down)
        if not self._fragments:
            self._reserve_fragments()
        if need >= self._fragments:
            raise SynthcamError(
                f"this view of the map needs {need} range fragments, more than Open3D's ray caster holds "
                f"({self._fragments}); use a larger voxel size"
            )
        result = self._grid.ray_cast(blocks, *args, *options, down)
        depth_t = self._torch(result["depth"]).reshape(-1)
        hit = depth_t > 0
        index = self._torch(result["index"]).reshape(-1, 8)[hit]
        ratio = self._torch(result["interp_ratio"]).reshape(-1, 8)[hit]
        labels = np.zeros(h * w, np.uint8)
        labels[hit.cpu().numpy()] = self._nearest_class(index, ratio)
        return FusedView(depth_t.cpu().numpy().reshape(h, w).astype(np.float32), labels.reshape(h, w))

    def _nearest_class(self, index, ratio) -> np.ndarray:
        """(M,) uint8 fused class of ray-cast hits from Open3D's (M, 8) voxel indices and weights: the class of
        the nearest voxel (corner 0, as the view is shifted by half a voxel), else, where that voxel holds no
        evidence, of the weighted evidence of the 8 (0 where there is none)."""
        torch = self._torch_module
        evidence = self._evidence()
        near = evidence[index[:, 0]] * (ratio[:, :1] > 0)
        empty = near.max(dim=1).values <= 0
        if bool(empty.any()):
            near[empty] = torch.bmm(ratio[empty].unsqueeze(1), self._gather(index[empty])).squeeze(1)
        return self._argmax(near)

    def labels_at(self, points: np.ndarray) -> np.ndarray:
        """(M,) uint8 fused class at (M, 3) world points: the class evidence of the 8 voxels around each,
        trilinearly weighted (0 where there is none)."""
        index, ratio = self._corners(points)
        return self._classify(index, ratio)

    def _reserve_fragments(self) -> None:
        """Make Open3D's ray caster allocate its range-fragment buffer large, once, before any real cast.

        Open3D first bounds each ray by the blocks' screen rectangles, cut into fragments of 16x16 range-map
        pixels, in a buffer it sizes at its first cast (by that cast's image and voxel size) and afterwards
        only when a cast overflows it. An overflowing cast drops fragments (which ones, by thread timing: rays
        then start past the surface) and reads fragments it never wrote (a crash when that memory holds old
        data). One cast of no block into a large image allocates room for :data:`FRAGMENT_SIDE` squared
        / 256 / voxel_size fragments at the cost of that many quick rays; every later cast is counted
        beforehand (:meth:`range_fragments`) and refused if it would overflow."""
        o3c, side = self._o3c, FRAGMENT_SIDE
        no_block = o3c.Tensor(np.zeros((0, 3), np.int32)).to(self.device)
        identity = (o3c.Tensor(np.eye(3)), o3c.Tensor(np.eye(4)), side, side)
        self._grid.ray_cast(no_block, *identity, ["depth"], 1.0, 0.1, 1.0, 1.0, self.trunc_voxels, 1)
        self._fragments = int(side * side / 256 / self.settings.voxel_size)

    def range_fragments(self, keys: np.ndarray, k: np.ndarray, extrinsic: np.ndarray, w: int, h: int, down: int) -> int:
        """How many range-map fragments Open3D's ray caster needs to cast blocks ``keys`` ((M, 3) int block
        coordinates) into a ``w`` x ``h`` camera (``k`` (3, 3), ``extrinsic`` (4, 4) world-to-camera) with a
        range map ``down`` times coarser (its rule: each block's screen rectangle in 16x16 tiles)."""
        if not len(keys):
            return 0
        side = self.settings.voxel_size * self.settings.block_resolution
        corners = (keys[:, None, :] + CORNERS[None]).reshape(-1, 3) * side
        cam = corners @ extrinsic[:3, :3].T + extrinsic[:3, 3]
        z = cam[:, 2]
        front = z > 0
        safe = np.where(front, z, 1.0)
        u = (k[0, 0] * cam[:, 0] / safe + k[0, 2]) / down
        v = (k[1, 1] * cam[:, 1] / safe + k[1, 2]) / down
        wd, hd = w // down, h // down
        inf = np.iinfo(np.int64).max // 4
        u_min = np.where(front, np.floor(u), inf).reshape(-1, 8).min(axis=1).clip(None, wd - 1)
        v_min = np.where(front, np.floor(v), inf).reshape(-1, 8).min(axis=1).clip(None, hd - 1)
        u_max = np.where(front, np.ceil(u), -inf).reshape(-1, 8).max(axis=1).clip(0, None)
        v_max = np.where(front, np.ceil(v), -inf).reshape(-1, 8).max(axis=1).clip(0, None)
        u_min, v_min = np.maximum(u_min, 0), np.maximum(v_min, 0)
        u_max, v_max = np.minimum(u_max, wd - 1), np.minimum(v_max, hd - 1)
        seen = front.reshape(-1, 8).sum(axis=1) >= 2  # z_min < z_max needs two corners in front
        seen &= (v_min < v_max) & (u_min < u_max)
        tiles = np.ceil((v_max - v_min + 1) / 16) * np.ceil((u_max - u_min + 1) / 16)
        return int(tiles[seen].sum())

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
        return self._argmax(torch.bmm(ratio.unsqueeze(1), self._gather(index)).squeeze(1))

    def _gather(self, index):
        """(M, 8, C) class evidence of (M, 8) flat voxel indices."""
        return self._evidence()[index.reshape(-1)].reshape(len(index), 8, self.classes)

    def _argmax(self, evidence) -> np.ndarray:
        """(M,) uint8 class of most (M, C) evidence; 0 where there is none."""
        torch = self._torch_module
        best, top = evidence.max(dim=1)
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
        return LabelledPoints(points, self.labels_at(points), normals, self.classes)

    def _corners(self, points: np.ndarray):
        """(N, 8) int64 flat voxel index and (N, 8) float32 trilinear weight (torch tensors on the map's device)
        of the voxels around each of the (N, 3) world points (weight 0 where the voxel's block is not in the
        map)."""
        torch, o3c, res = self._torch_module, self._o3c, self.settings.block_resolution
        device = self._evidence().device
        grid = torch.from_numpy(points).to(device, torch.float64) / self.settings.voxel_size
        base = grid.floor()
        frac = (grid - base).to(torch.float32)
        steps = torch.from_numpy(CORNERS).to(device)
        voxel = base.to(torch.int64).unsqueeze(1) + steps  # (N, 8, 3)
        block = torch.div(voxel, res, rounding_mode="floor")
        local = voxel - block * res
        keys = o3c.Tensor.from_dlpack(torch.utils.dlpack.to_dlpack(block.reshape(-1, 3).to(torch.int32)))
        buf, found = self._grid.hashmap().find(keys)
        found_t = self._torch(found).reshape(-1, 8)
        flat = self._torch(buf).to(torch.int64).reshape(-1, 8) * res**3
        flat += (local[..., 2] * res + local[..., 1]) * res + local[..., 0]
        side = torch.where(steps.bool(), frac.unsqueeze(1), 1.0 - frac.unsqueeze(1))  # (N, 8, 3)
        weight = side.prod(dim=2)
        zero = torch.zeros((), dtype=torch.int64, device=device)
        return torch.where(found_t, flat, zero), torch.where(found_t, weight, 0.0)

    def memory_bytes(self) -> int:
        """Bytes held by the map's voxel blocks (hash capacity, all attributes)."""
        per_voxel = 4 * (2 + self.classes)
        capacity = int(self._grid.hashmap().capacity())
        return capacity * self.settings.block_resolution**3 * per_voxel
