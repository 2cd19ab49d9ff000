"""Print the register's page: ``python -m needsid.indicators > docs/pages/indicators.md``."""

import sys

from ._reference import register_reference

sys.stdout.write(register_reference())
