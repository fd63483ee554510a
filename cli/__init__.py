"""The ``synthcam`` command line: thin click commands over the library packages."""
