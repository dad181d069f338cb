"""`python -m tools.docs [--assembly DIR] [--check]`, the same as `python -m tools docs`."""

import sys

from tools.docs import main

sys.exit(main())
