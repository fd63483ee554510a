"""Label fusion: per-pixel class evidence of depth frames fused into a 3D map (Open3D ``VoxelBlockGrid``).

:mod:`segnet.fusion.sources` reads the frames (a shard, or real depth PNGs with a TUM RGB-D trajectory,
:mod:`segnet.fusion.tum`) and a checkpoint's class probabilities; :mod:`segnet.fusion.volume` holds the map
(:class:`~segnet.fusion.volume.LabelFusion`) and what it gives back (ray-cast label images, labelled points);
:mod:`segnet.fusion.ply` and :mod:`segnet.fusion.topdown` write the points as a PLY file and a picture seen
from above; :mod:`segnet.fusion.pipeline` runs a whole sequence. Importing this package stays light: Open3D
is imported only when a map is made.
"""
