"""python -m gan_lab: the command line (gan_lab.cli)."""
import sys

from .cli import main

sys.exit(main())
