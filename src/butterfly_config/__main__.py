"""`python -m butterfly_config` is the `butterfly` command."""

import sys

from butterfly_config.cli.main import main

sys.exit(main())
