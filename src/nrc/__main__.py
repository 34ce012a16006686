"""`python -m nrc` (and `torchrun -m nrc`): the command line."""

import sys

from nrc.cli import main

sys.exit(main())
