"""`python -m refdocs`: rewrite the reference pages' generated parts (`--check`: name the stale ones)."""

import sys

from refdocs import main

sys.exit(main())
