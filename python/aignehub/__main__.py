import sys

from aignehub.cli import main

sys.exit(main())
