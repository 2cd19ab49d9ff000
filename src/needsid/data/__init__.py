"""The data contract: the HouseholdData bundle, its tables, reading, writing and validation."""

from ._bundle import HouseholdData
from ._schema import TABLES, record_vocabulary
from ._validate import DataValidationError, validate

__all__ = ["HouseholdData", "validate", "DataValidationError", "TABLES", "record_vocabulary"]
