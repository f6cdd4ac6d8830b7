"""`python -m jhpolicy.cli`, as the `jhpolicy` entry point."""

import sys

from . import main

sys.exit(main())
