"""``python -m rtnet``: the same as the ``rtnet`` command."""

import sys

from rtnet.cli import main

sys.exit(main())
