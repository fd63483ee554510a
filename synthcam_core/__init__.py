"""The contracts every package shares: camera and rays, the frame, the label vocabulary, the sample layout, the
error root, atomic file writes, the colour palette and folders of real depth frames. Imports nothing else of the
project (see docs/ARCHITECTURE.md)."""
