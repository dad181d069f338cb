"""`python -m tools.db_bootstrap [args]`, the same as `python -m tools db-bootstrap [args]`."""

import sys

from tools.db_bootstrap import main

sys.exit(main())
