"""Print the contract reference: ``python -m needsid.data > docs/contract.md``."""

import sys

from ._reference import contract_reference

sys.stdout.write(contract_reference())
