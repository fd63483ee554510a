"""Camera geometry of the project, one implementation of each piece.

Conventions (as :mod:`synthcam_core.camera`): OpenCV camera frame (x right, y down, z forward); a pose is a
(4, 4) camera-to-world matrix; pixel (u, v) has its centre at (u + 0.5, v + 0.5) in the coordinates of
``cx, cy``; depth is z-depth in metres, 0 = invalid.

numpy (the CPU pipeline):

- :mod:`~synthcam_core.geometry.rays`: the pixel-centre ray grid (centres, slopes, z = 1 rays, unit rays);
- :mod:`~synthcam_core.geometry.flow_np`: optical flow of a static scene between two frames, with
  visibility codes;
- :mod:`~synthcam_core.geometry.surface`: normals from depth and the incidence cosine (numpy and torch).

torch (batched over leading dimensions, differentiable, any device, float32 or float64):

- :mod:`~synthcam_core.geometry.se3`: rotations and rigid transforms (exp/log, quaternions, composition);
- :mod:`~synthcam_core.geometry.pinhole`: pixel grid, projection, back-projection;
- :mod:`~synthcam_core.geometry.warp`: inverse warping of images and label maps between frames;
- :mod:`~synthcam_core.geometry.flow`: optical and scene flow, the twin of ``flow_np``.

This package module imports nothing: numpy users import the submodules they need, torch stays unloaded.
"""
