"""Print pip constraints that pin every dependency to the floor pyproject.toml declares.

`make test-min` installs needsid with them (``pip install -c``), so the suite runs on the
oldest releases the package claims to support: a floor that is not tested is a guess.
Requirements without a ``>=`` floor (jupyter, pytest-cov) are left to pip, and so are
dependencies of dependencies, except the few in ERA below.

Usage: python .ci/min_constraints.py [EXTRA ...] > constraints.txt
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# name[extras] >=floor (other clauses, e.g. ",<4", may follow; markers after ";")
_FLOOR = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*[^;]*?>=\s*([^,;\s]+)")

# Dependencies of dependencies held to releases of the floors' time, where the newest one
# only makes an old floor warn (the suite turns warnings into errors), not fail.
ERA = {
    # matplotlib < 3.10.7 calls pyparsing names (parseString, oneOf) that 3.3 deprecates
    "pyparsing": "<3.3",
    # typer < 0.16 predates click 8.2 (and 8.5 deprecates what typer 0.12 calls)
    "click": "<8.2",
    # scikit-learn 1.6 passes L-BFGS-B options (iprint) that scipy 1.16 deprecates
    "scipy": "<1.16",
    # mlflow 3.0-3.7's tracking server does not start with SQLAlchemy 2.1
    "sqlalchemy": "<2.1",
}


def floors(extras: list[str]) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    out: dict[str, str] = {}
    for requirement in requirements:
        match = _FLOOR.match(requirement)
        if match:
            name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
            out[name] = max(out.get(name, match.group(2)), match.group(2), key=_version_key)
    return out


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


if __name__ == "__main__":
    for name, floor in sorted(floors(sys.argv[1:]).items()):
        print(f"{name}=={floor}")
    for name, spec in ERA.items():
        print(f"{name}{spec}")
