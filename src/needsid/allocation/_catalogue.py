"""The programme catalogue: what each programme serves, who is eligible, what it costs.

A catalogue is checked programme by programme, so one error lists every problem at once,
each as ``programme '<id>': <field>: <what is wrong and how to fix it>``.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._errors import ConfigError, describe
from .._yaml import safe_load
from ._programme import Programme

__all__ = ["DEFAULT_CATALOGUE", "Catalogue", "CatalogueError", "load_catalogue"]

#: The catalogue shipped in the package (``configs/allocation/default.yaml`` is a copy).
DEFAULT_CATALOGUE = Path(__file__).with_name("default.yaml")


class CatalogueError(ConfigError):
    """A programme catalogue that cannot be used; ``problems`` lists every problem found.

    A :class:`needsid.ConfigError`, like every other configuration error.

    Parameters
    ----------
    source : str
        What was read, named in the message (e.g. the quoted file path).
    problems : list of str
        Every problem, each naming the programme id and field.

    Examples
    --------
    >>> from needsid.allocation import Catalogue, CatalogueError
    >>> try:
    ...     Catalogue.from_dict({"id": "x", "version": "1"}, source="x.yaml")
    ... except CatalogueError as err:
    ...     print(err)
    Invalid programme catalogue x.yaml (2 problems):
      - missing key 'description'
      - missing key 'programmes'
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        n = len(problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        message = f"Invalid programme catalogue {source} ({n} problem{'s' * (n != 1)}):\n{lines}"
        super().__init__(message, list(problems))


CatalogueError.__module__ = "needsid.allocation"  # where users import it from


def _programme_problems(pid: str, exc: ValidationError) -> list[str]:
    return [f"programme {pid!r}: {describe(e)}" for e in exc.errors(include_url=False)]


class _Header(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str = Field(min_length=1)
    programmes: list[Any] = Field(min_length=1)


def check(raw: Any) -> list[str]:
    """Return every problem of a raw catalogue (a parsed YAML mapping); empty if valid."""
    if not isinstance(raw, dict):
        return [
            "expected a mapping with id, version, description and programmes; "
            f"got {type(raw).__name__}."
        ]
    problems = []
    try:
        _Header.model_validate(raw)
    except ValidationError as exc:
        problems += [describe(e) for e in exc.errors(include_url=False)]
    listed = raw.get("programmes")
    items = listed if isinstance(listed, list) else []
    ids = [
        item["id"] if isinstance(item, dict) and isinstance(item.get("id"), str) else f"#{i}"
        for i, item in enumerate(items, start=1)
    ]
    known = list(dict.fromkeys(i for i in ids if not i.startswith("#")))
    for i, (pid, item) in enumerate(zip(ids, items, strict=True), start=1):
        if not isinstance(item, dict):
            problems.append(f"programme {pid!r}: expected a mapping of fields, got {item!r}.")
            continue
        try:
            Programme.model_validate(item)
        except ValidationError as exc:
            problems += _programme_problems(pid, exc)
        excludes = item.get("excludes", [])
        excludes = [excludes] if isinstance(excludes, str) else excludes
        for other in excludes if isinstance(excludes, list) else []:
            if not isinstance(other, str):
                continue  # the model reports it
            if other == pid:
                problems.append(f"programme {pid!r}: excludes: a programme cannot exclude itself.")
            elif other not in ids:
                close = difflib.get_close_matches(other, known, n=1)
                problems.append(
                    f"programme {pid!r}: excludes: unknown programme {other!r}; the catalogue "
                    f"has {', '.join(known)}.{f' Did you mean {close[0]!r}?' if close else ''}"
                )
        if ids.index(pid) != i - 1:
            problems.append(
                f"programme {pid!r}: id: duplicate id (programmes #{ids.index(pid) + 1} and "
                f"#{i}); give each programme its own id."
            )
    return problems


class Catalogue(BaseModel):
    """A versioned catalogue of programmes and services that needs can be met with.

    Build one with :func:`load_catalogue` (a YAML file) or :meth:`from_dict`, which report
    every problem at once with the programme id and field.

    Parameters
    ----------
    id, version, description : str
        Identify the catalogue.
    programmes : tuple of Programme
        In catalogue order.

    Examples
    --------
    >>> from needsid.allocation import load_catalogue
    >>> catalogue = load_catalogue()
    >>> len(catalogue.programmes) >= 10, catalogue.programme("dibao_topup").dimensions
    (True, ('income',))
    >>> ("dibao_topup", "tekun_support") in catalogue.exclusions
    True
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    version: str
    description: str
    programmes: tuple[Programme, ...] = Field(min_length=1)

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<dict>") -> Catalogue:
        """Validate a parsed catalogue; raise :class:`CatalogueError` listing every problem.

        Parameters
        ----------
        raw : dict
            ``id, version, description, programmes`` as read from YAML.
        source : str, default="<dict>"
            Named in the error message (e.g. the file path).

        Returns
        -------
        Catalogue
            The validated catalogue.

        Raises
        ------
        CatalogueError
            Listing every problem, each naming the programme id and field.

        Examples
        --------
        >>> from needsid.allocation import Catalogue
        >>> meals = {"id": "meals", "name_zh": "营养午餐", "name_en": "School meals",
        ...          "dimensions": ["education"], "eligibility": "n_children >= 1",
        ...          "cost": 100}
        >>> raw = {"id": "mine", "version": "1", "description": "One.", "programmes": [meals]}
        >>> Catalogue.from_dict(raw).ids
        ['meals']
        >>> bad = {**raw, "programmes": [{**meals, "dimensions": ["food"], "cost": -1}]}
        >>> Catalogue.from_dict(bad, source="mine.yaml")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        needsid.allocation.CatalogueError: Invalid programme catalogue mine.yaml (2 problems):
          - programme 'meals': dimensions: Got unknown dimension(s) ['food']; ...
          - programme 'meals': cost: Got cost=-1; expected a finite amount of yuan ...
        """
        problems = check(raw)
        if problems:
            raise CatalogueError(source, problems)
        return cls.model_validate(raw)

    @property
    def ids(self) -> list[str]:
        """Programme ids in order."""
        return [p.id for p in self.programmes]

    @property
    def exclusions(self) -> frozenset[tuple[str, str]]:
        """Pairs of programmes that cannot be combined, both orders of each pair."""
        pairs = {(p.id, q) for p in self.programmes for q in p.excludes}
        return frozenset(pairs | {(q, p) for p, q in pairs})

    def programme(self, programme_id: str) -> Programme:
        """Return one programme by id.

        Parameters
        ----------
        programme_id : str
            A programme id of the catalogue.

        Returns
        -------
        Programme
            The programme.

        Raises
        ------
        KeyError
            If the catalogue has no such programme.

        Examples
        --------
        >>> from needsid.allocation import load_catalogue
        >>> load_catalogue().programme("care_services").name_en
        'Care services'
        """
        for p in self.programmes:
            if p.id == programme_id:
                return p
        raise KeyError(f"No programme {programme_id!r}; the catalogue has {', '.join(self.ids)}.")

    def select(self, ids: list[str] | tuple[str, ...]) -> Catalogue:
        """Return a catalogue of some programmes only; exclusions of the others are dropped.

        Parameters
        ----------
        ids : list of str
            Programme ids to keep, in the order given.

        Returns
        -------
        Catalogue
            The same id and version, fewer programmes.

        Examples
        --------
        >>> from needsid.allocation import load_catalogue
        >>> small = load_catalogue().select(["dibao_topup", "medical_assistance"])
        >>> small.ids, small.programme("dibao_topup").excludes
        (['dibao_topup', 'medical_assistance'], ())
        """
        kept = [self.programme(i) for i in ids]
        out = [
            p.model_copy(update={"excludes": tuple(q for q in p.excludes if q in ids)})
            for p in kept
        ]
        return self.model_copy(update={"programmes": tuple(out)})

    def to_frame(self) -> pl.DataFrame:
        """Return one row per programme, for reading and for documentation.

        Returns
        -------
        polars.DataFrame
            The id, name_zh, name_en, dimensions, eligibility, cost, capacity and
            excludes of each programme, as text.

        Examples
        --------
        >>> from needsid.allocation import load_catalogue
        >>> load_catalogue().to_frame().row(0, named=True)["cost"]
        'max(0, dibao_standard - max(0, net_income_pc)) * hh_size'
        """
        rows = [
            {
                "id": p.id,
                "name_zh": p.name_zh,
                "name_en": p.name_en,
                "dimensions": ", ".join(p.dimensions),
                "eligibility": p.eligibility,
                "cost": p.cost if isinstance(p.cost, str) else f"{p.cost:g}",
                "capacity": "" if p.capacity is None else str(p.capacity),
                "excludes": ", ".join(sorted({q for q, r in self.exclusions if r == p.id})),
            }
            for p in self.programmes
        ]
        return pl.DataFrame(rows)


def load_catalogue(path: str | os.PathLike[str] | None = None) -> Catalogue:
    """Read and validate a YAML programme catalogue.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A YAML file with top-level ``id``, ``version`` (quoted text), ``description`` and
        ``programmes``; see ``configs/allocation/default.yaml``. None is the catalogue
        shipped inside the package (the same file).

    Returns
    -------
    Catalogue
        The validated catalogue.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    CatalogueError
        Listing every problem, each naming the programme id and field (unknown
        dimension or excluded programme, negative cost, bad expression, bad capacity,
        duplicate id).

    Examples
    --------
    >>> from needsid.allocation import load_catalogue
    >>> catalogue = load_catalogue("configs/allocation/default.yaml")
    >>> catalogue.id, load_catalogue() == catalogue
    ('default', True)
    """
    path = DEFAULT_CATALOGUE if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Programme catalogue {str(path)!r} not found; pass a YAML file path."
        )
    source = repr(str(path))
    try:
        raw = safe_load(path.read_text("utf-8"), source)
    except yaml.YAMLError as exc:
        raise CatalogueError(source, [f"not valid YAML: {exc}"]) from None
    return Catalogue.from_dict(raw, source=source)
