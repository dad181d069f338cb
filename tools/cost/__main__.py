"""`python -m tools.cost [args]`, the same as `python -m tools cost [args]`."""

import sys

from tools.cost import main

sys.exit(main())
