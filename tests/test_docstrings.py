"""The public API's docstrings pass numpydoc's validation and every callable has an example.

The public API is what ``needsid.__all__`` and each subpackage's ``__all__`` export, plus
the public methods and properties those classes define (inherited scikit-learn methods
are scikit-learn's to document). The examples themselves run as doctests
(``--doctest-modules`` in pyproject.toml); this file checks that they are there.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
from numpydoc.validate import validate

import needsid

# numpydoc checks not required here, each with the reason
IGNORED = {
    "SA01",  # See Also: cross-references live in the README sections and docs/
    "ES01",  # extended summary: a short function needs only its summary line
    "EX01",  # no Examples section: test_has_examples checks this, for callables only
}


def _defined_here(value: object) -> bool:
    target = value.fget if isinstance(value, property) else value
    target = getattr(target, "__func__", target)  # classmethod, staticmethod
    return getattr(target, "__module__", "").startswith("needsid")


def _public_api() -> tuple[list[str], list[str]]:
    """Return the import paths of the public callables and of the public properties."""
    paths = [f"needsid.{name}" for name in needsid.__all__ if name not in needsid._SUBPACKAGES]
    for sub in needsid._SUBPACKAGES:
        module = importlib.import_module(f"needsid.{sub}")
        paths += [f"needsid.{sub}.{name}" for name in module.__all__]
    callables, properties = set(), set()
    for path in paths:
        module_name, _, name = path.rpartition(".")
        obj = getattr(importlib.import_module(module_name), name)
        # constants (TABLES, FAMILIES, ...) have no docstring of their own; the module
        # docstring and the README describe them
        if not callable(obj):
            continue
        callables.add(path)
        if not inspect.isclass(obj):
            continue
        for klass in obj.__mro__:
            if not klass.__module__.startswith("needsid"):
                continue
            for attr, value in vars(klass).items():
                # data fields (dataclass defaults, pydantic's model_config) are described
                # in the class docstring, not on their own
                if attr.startswith("_") or not _defined_here(value):
                    continue
                if isinstance(value, property):
                    properties.add(f"{path}.{attr}")
                elif callable(value) or hasattr(value, "__func__"):
                    callables.add(f"{path}.{attr}")
    return sorted(callables), sorted(properties)


CALLABLES, PROPERTIES = _public_api()


def test_public_api_is_found():
    assert {"needsid.simulate", "needsid.data.HouseholdData.read"} <= set(CALLABLES)
    assert "needsid.mpi.MPIResult.H" in PROPERTIES


@pytest.mark.parametrize("path", CALLABLES + PROPERTIES)
def test_numpydoc_valid(path):
    errors = [(code, msg) for code, msg in validate(path)["errors"] if code not in IGNORED]
    assert not errors, "\n".join(f"{path}: {code} {msg}" for code, msg in errors)


# a property reads like an attribute: its class's example shows it
@pytest.mark.parametrize("path", CALLABLES)
def test_has_examples(path):
    codes = {code for code, _ in validate(path)["errors"]}
    assert "EX01" not in codes, f"{path} has no Examples section"
