"""``python -m cli``: the ``meterwatch`` command."""

import sys

from cli.main import main

sys.exit(main())
