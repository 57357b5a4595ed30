"""``python -m events_api_cli``, the same as the ``events-api`` command."""

import sys

from events_api_cli.main import main

sys.exit(main())
