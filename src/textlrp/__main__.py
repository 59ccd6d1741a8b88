"""``python -m textlrp``: the same as the ``textlrp`` command."""

import sys

from textlrp.cli.main import main

sys.exit(main())
