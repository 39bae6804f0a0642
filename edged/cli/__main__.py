"""`python -m edged.cli`: the `edged` command (edged/cli/main.py)."""

import sys

from edged.cli.main import main

sys.exit(main())
