"""The ``pyrender`` renderer backend: pyrender's flat ``SEG`` pass over headless EGL.

The pass returns the object colour (object index + 1 in R + 256 G) and the depth buffer in one pass without
anti-aliasing (pyrender's ``DEPTH_ONLY`` pass blends 4 samples at edges and is wrong there). pyrender has no
normal output, so its normals are derived from the depth
(see :func:`synthcam_core.geometry.surface.normals_from_depth`): exact on flat faces, less so on one-pixel
slivers and curved, coarsely tessellated surfaces. pyrender and PyOpenGL come
with the ``pyrender`` extra.
"""

from __future__ import annotations

import numpy as np

from scene_library import Scene
from synthcam.egl import EGL_PACKAGES, egl_environment, import_gl
from synthcam.render_raycast import LabelTables, SurfaceDistance
from synthcam_core.camera import Intrinsics
from synthcam_core.errors import SynthcamError
from synthcam_core.extras import require
from synthcam_core.frame import Frame
from synthcam_core.geometry.surface import incidence_from_normals, normals_from_depth

#: OpenCV camera frame -> GL camera frame (y up, z backwards): flip y and z.
CV_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])


def import_pyrender():
    """Import pyrender on the EGL platform; a missing pyrender names the ``pyrender`` extra, a missing
    system library the Debian packages."""
    import_gl("pyrender", "the pyrender renderer")
    try:
        with egl_environment():
            return require("pyrender", "pyrender", "the pyrender renderer")
    except ImportError as exc:
        raise SynthcamError(
            f"pyrender cannot be imported ({exc}); install the Debian packages {EGL_PACKAGES}, "
            "and pyrender==0.1.45 with PyOpenGL==3.1.0 (or use --renderer gl / raycast)"
        ) from None


class PyrenderRenderer:
    """pyrender's flat ``SEG`` pass over EGL: depth and object ids in one pass, normals derived from depth.

    scene : the scene; object ``i`` is drawn in the flat colour R + 256 G = i + 1 (black = missed).
    intrinsics : camera used for every frame.
    nthreads : software-rasteriser threads when this process has not set ``LP_NUM_THREADS`` (0 = all
        cores); also the Open3D threads of :meth:`distance`.
    """

    name = "pyrender"

    def __init__(self, scene: Scene, intrinsics: Intrinsics, nthreads: int = 0):
        if len(scene.objects) >= 2**16 - 1:
            raise SynthcamError(
                "the pyrender backend colours at most 65534 objects, the scene has "
                f"{len(scene.objects)}; use --renderer gl"
            )
        pyrender = import_pyrender()
        self._pyrender = pyrender
        self.intrinsics = intrinsics
        self._labels = LabelTables.of(scene)
        self.distance = SurfaceDistance(scene, nthreads)
        self._scene = pyrender.Scene(bg_color=np.zeros(4), ambient_light=np.ones(3))
        self._seg = {}
        for i, obj in enumerate(scene.objects):
            node = self._scene.add(pyrender.Mesh.from_trimesh(obj.mesh, smooth=False))
            self._seg[node] = np.array([(i + 1) & 255, (i + 1) >> 8, 0], dtype=np.uint8)
        # pyrender's IntrinsicsCamera samples pixel (u, v) at (u + 0.5, v + 0.5) like us: K passes as is.
        camera = pyrender.IntrinsicsCamera(
            intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy, znear=Z_NEAR_PYRENDER, zfar=Z_FAR_PYRENDER
        )
        self._camera = self._scene.add(camera, pose=np.eye(4))
        try:
            with egl_environment(nthreads):  # pyrender picks its platform, Mesa its threads, right here
                self._renderer = pyrender.OffscreenRenderer(intrinsics.width, intrinsics.height)
        except SynthcamError:
            raise
        except Exception as exc:  # EGL initialisation fails in pyrender's own platform code
            raise SynthcamError(
                f"pyrender cannot open an EGL context ({exc}); install the Debian packages "
                f"{EGL_PACKAGES}, or use --renderer raycast"
            ) from None

    def render(self, pose: np.ndarray, normals: bool = True, incidence: bool = False) -> Frame:
        """Render depth, labels and (optionally) normals and the incidence cosine for a (4, 4)
        camera-to-world ``pose``."""
        self._scene.set_pose(self._camera, np.asarray(pose, dtype=np.float64) @ CV_TO_GL)
        colour, depth = self._renderer.render(self._scene, flags=self._pyrender.RenderFlags.SEG, seg_node_map=self._seg)
        index = colour[..., 0].astype(np.int32) + 256 * colour[..., 1].astype(np.int32) - 1
        index[index < 0] = len(self._labels.class40) - 1  # black: missed everything
        depth = np.ascontiguousarray(depth, dtype=np.float32)
        cam_normals = cos = None
        if normals or incidence:
            cam_normals = normals_from_depth(depth, self.intrinsics)
            cos = incidence_from_normals(cam_normals, self.intrinsics) if incidence else None
        return Frame(
            depth=depth,
            class40=np.take(self._labels.class40, index, mode="clip"),
            instance=np.take(self._labels.instance, index, mode="clip"),
            normals=cam_normals if normals else None,
            pose=np.array(pose, dtype=np.float64),
            intrinsics=self.intrinsics,
            incidence=cos,
        )

    def close(self) -> None:
        """Free pyrender's GL objects and destroy its context, leaving the EGL display initialised.

        pyrender's own ``delete()`` calls ``eglTerminate`` on a display that every context of the process
        shares (EGL returns one display per device), which would kill the ``gl`` backend's context too.
        """
        if self._renderer is not None:
            from OpenGL import EGL

            platform = self._renderer._platform
            platform.make_current()
            self._renderer._renderer.delete()
            EGL.eglMakeCurrent(platform._egl_display, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, EGL.EGL_NO_CONTEXT)
            EGL.eglDestroyContext(platform._egl_display, platform._egl_context)
            self._renderer = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


#: pyrender's depth buffer has 24 bits: error ~ z^2 / (near 2^24), 0.02 mm at 4 m with these planes.
Z_NEAR_PYRENDER, Z_FAR_PYRENDER = 0.05, 50.0
