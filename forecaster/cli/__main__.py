"""`python -m forecaster.cli`: the `forecaster` command."""

import sys

from forecaster.cli.main import main

sys.exit(main())
