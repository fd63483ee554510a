"""Limits of the settings of training and evaluation, checked up front.

A mistyped number (``--batch-size 1000000000``, ``--height 100000``, ``--lr inf``) gives one line
instead of an allocation that never ends or a traceback. The limits are generous for real use on one
GPU. This module imports nothing heavy, so the command line can show them in ``--help``.
"""

from __future__ import annotations

MAX_EPOCHS = 10_000
"""Epochs of one run."""
MAX_BATCH_SIZE = 1024
"""Frames per batch (training and evaluation)."""
MAX_SIDE = 4096
"""Training crop height and width, pixels each."""
MAX_BATCH_PIXELS = 2**26
"""batch size x height x width (67 M pixels: e.g. 873 frames of 320 x 240, 4 of 4096 x 4096)."""
MAX_MODEL_WIDTH = 4.0
"""Channel multiplier of the model (4: about 16 x the parameters of the standard model)."""
MAX_LR = 10.0
"""Peak learning rate."""
MAX_WEIGHT_DECAY = 1.0
"""Weight decay."""
MAX_ZOOM = 8.0
"""Upper end of ``scale_range`` (augmentation zoom)."""
MAX_DEPTH_JITTER = 0.5
"""``depth_jitter``: depth is multiplied by 1 + U(-j, j), so j must stay below 1."""
MAX_SYNTHETIC_FRAMES = 100_000
"""Frames of ``--dataset synthetic``."""
MAX_BALANCE_FRAMES = 10_000
"""Frames read to estimate the class frequencies."""
MAX_NUM_WORKERS = 256
"""DataLoader workers in any saved setting; a run also needs ``num_workers`` <= the usable cores."""
MAX_SEED = 2**32 - 1
"""Largest seed (seeds are >= 0; loaders derive per-epoch seeds from it)."""

MAX_MC_SAMPLES = 1000
"""Dropout samples averaged per frame in evaluation (each one a full forward pass)."""
