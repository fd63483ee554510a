"""Depth-only SegNet: input encodings, models, training and evaluation (not implemented yet)."""
