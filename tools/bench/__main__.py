"""`python -m tools.bench [args]`, the same as `python -m tools bench [args]`."""

import sys

from tools.bench import main

sys.exit(main())
