"""The HDF5 shard format (FORMAT.md), in one home: its vocabulary, header digest, safe opening, writer, reader,
manifest, validation and summary. The only place that opens a shard with h5py; imports only
:mod:`synthcam_core` (see docs/ARCHITECTURE.md)."""
