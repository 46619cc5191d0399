"""`python -m cryosse.cli`: the `cryosse` command."""

import sys

from cryosse.cli.main import main

sys.exit(main())
