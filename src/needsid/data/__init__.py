"""The data contract: the HouseholdData bundle, its tables, reading, writing and validation."""

from ._bundle import HouseholdData
from ._datasets import FIES_POVERTY_LINE, Dataset, load_costa_rica, load_fies
from ._folder import validate_folder
from ._reference import contract_reference, record_kinds
from ._schema import TABLES, nullable_value_kinds, record_values, record_vocabulary
from ._validate import DataValidationError, validate

__all__ = [
    "FIES_POVERTY_LINE",
    "DataValidationError",
    "Dataset",
    "HouseholdData",
    "TABLES",
    "contract_reference",
    "load_costa_rica",
    "load_fies",
    "nullable_value_kinds",
    "record_kinds",
    "record_values",
    "record_vocabulary",
    "validate",
    "validate_folder",
]
