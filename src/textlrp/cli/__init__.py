"""The ``textlrp`` command line."""
