"""MPI specs (indicators, dimensions, weights, cutoffs, k) validated from YAML."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .._deprecate import renamed_keywords
from .._errors import ConfigError
from .._yaml import safe_load
from ._alkire_foster import alkire_foster
from ._result import MPIResult

__all__ = ["IndicatorSpec", "MPISpec", "alkire_foster_from_spec", "load_spec"]

_WEIGHT_SUM_TOLERANCE = 1e-9


def _number(value: Any, what: str) -> Any:
    """Accept numbers and exact fractions written as text, e.g. "1/6"."""
    if isinstance(value, bool):
        raise ValueError(f"Got {what}={value!r}; expected a number or a fraction like '1/6'.")
    if isinstance(value, str):
        try:
            return float(Fraction(value.replace(" ", "")))
        except (ValueError, ZeroDivisionError):
            raise ValueError(
                f"Got {what}={value!r}; expected a number or a fraction like '1/6'."
            ) from None
    return value  # pydantic checks it is a number


class IndicatorSpec(BaseModel):
    """One indicator: its dimension, weight and deprivation rule. Unknown keys are errors.

    Parameters
    ----------
    name : str
        Column name of the indicator in the achievement matrix.
    dimension : str
        The dimension it belongs to (one of the spec's ``dimensions``).
    weight : float or str
        Its weight (>= 0), a number or an exact fraction such as ``"1/18"``.
    cutoff : float or str
        The deprivation cutoff, a finite number or a fraction.
    deprived_if : {"below", "at_or_below", "above", "at_or_above"}, default "below"
        Where a unit is deprived, relative to ``cutoff``.
    description : str
        What deprivation in this indicator means.
    coding : str, default ""
        How the indicator is coded, e.g. "1 if deprived, 0 otherwise".
    cardinal : bool, default False
        Whether the values are cardinal, so gaps (M1, M2) are meaningful.

    Raises
    ------
    pydantic.ValidationError
        If a key is unknown or a value invalid.

    Examples
    --------
    >>> from needsid.mpi import IndicatorSpec
    >>> school = IndicatorSpec(
    ...     name="school", dimension="education", weight="1/6", cutoff=6,
    ...     description="Fewer than 6 years of schooling.", cardinal=True,
    ... )
    >>> round(school.weight, 4), school.deprived_if
    (0.1667, 'below')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    dimension: str = Field(min_length=1)
    weight: float = Field(ge=0)
    cutoff: float
    deprived_if: Literal["below", "at_or_below", "above", "at_or_above"] = "below"
    description: str = Field(min_length=1)
    coding: str = ""
    cardinal: bool = False

    @field_validator("weight", "cutoff", mode="before")
    @classmethod
    def _fraction(cls, v: Any, info: Any) -> Any:
        return _number(v, info.field_name)

    @field_validator("cutoff")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError(f"Got cutoff={v!r}; expected a finite number.")
        return v


class MPISpec(BaseModel):
    """A multidimensional poverty index: indicators grouped in dimensions, weights and k.

    Weights must sum to 1. Unknown keys are errors. :func:`load_spec` reads one from
    YAML (e.g. the shipped ``"global_mpi"``).

    Parameters
    ----------
    name : str
        Short name of the index.
    title : str, default ""
        Its full title.
    source : str, default ""
        Who defined it, and where.
    k : float or str
        Poverty cutoff in (0, 1], a number or a fraction such as ``"1/3"``.
    dimensions : sequence of str
        The dimensions, in order; each needs at least one indicator.
    indicators : sequence of IndicatorSpec or dict
        The indicators; their weights sum to 1.

    Raises
    ------
    pydantic.ValidationError
        If a key is unknown, a value invalid, or the indicators and dimensions disagree
        (every problem is listed).

    Examples
    --------
    >>> from needsid.mpi import MPISpec
    >>> spec = MPISpec(
    ...     name="toy",
    ...     k="1/2",
    ...     dimensions=["health", "education"],
    ...     indicators=[
    ...         {"name": "sick", "dimension": "health", "weight": "1/2", "cutoff": 1,
    ...          "deprived_if": "at_or_above", "description": "Someone is sick."},
    ...         {"name": "school", "dimension": "education", "weight": "1/2", "cutoff": 6,
    ...          "description": "Fewer than 6 years of schooling.", "cardinal": True},
    ...     ],
    ... )
    >>> spec.dimension_weights
    {'health': 0.5, 'education': 0.5}
    >>> import pandas as pd
    >>> x = pd.DataFrame({"sick": [1, 0], "school": [3, 9]}, index=["a", "b"])
    >>> res = spec.apply(x)
    >>> res.is_poor.tolist(), res.M1
    ([True, False], 0.25)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    title: str = ""
    source: str = ""
    k: float
    dimensions: tuple[str, ...] = Field(min_length=1)
    indicators: tuple[IndicatorSpec, ...] = Field(min_length=1)

    @field_validator("k", mode="before")
    @classmethod
    def _k_fraction(cls, v: Any) -> Any:
        return _number(v, "k")

    @field_validator("k")
    @classmethod
    def _k_range(cls, v: float) -> float:
        if not 0 < v <= 1:
            raise ValueError(f"Got k={v!r}; expected 0 < k <= 1, e.g. k: 1/3.")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> MPISpec:
        names = [i.name for i in self.indicators]
        problems = []
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            problems.append(f"indicator names {dup!r} appear more than once")
        dup_dims = sorted({d for d in self.dimensions if self.dimensions.count(d) > 1})
        if dup_dims:
            problems.append(f"dimensions {dup_dims!r} are listed more than once")
        unknown = sorted({i.dimension for i in self.indicators} - set(self.dimensions))
        if unknown:
            problems.append(
                f"indicators use dimensions {unknown!r} not listed in dimensions "
                f"{list(self.dimensions)!r}"
            )
        empty = [d for d in self.dimensions if d not in {i.dimension for i in self.indicators}]
        if empty:
            problems.append(f"dimensions {empty!r} have no indicator")
        total = sum(i.weight for i in self.indicators)
        if abs(total - 1) > _WEIGHT_SUM_TOLERANCE:
            problems.append(f"indicator weights sum to {total:.6g}, not 1")
        if problems:
            raise ValueError("; ".join(problems) + ".")
        return self

    @property
    def indicator_names(self) -> tuple[str, ...]:
        """Indicator names, in spec order."""
        return tuple(i.name for i in self.indicators)

    @property
    def weights(self) -> dict[str, float]:
        """Indicator -> weight."""
        return {i.name: i.weight for i in self.indicators}

    @property
    def cutoffs(self) -> dict[str, float]:
        """Indicator -> deprivation cutoff."""
        return {i.name: i.cutoff for i in self.indicators}

    @property
    def deprived_if(self) -> dict[str, str]:
        """Indicator -> deprivation rule."""
        return {i.name: i.deprived_if for i in self.indicators}

    @property
    def cardinal(self) -> tuple[str, ...]:
        """Indicators flagged cardinal (behind M1 and M2)."""
        return tuple(i.name for i in self.indicators if i.cardinal)

    @property
    def dimension_of(self) -> dict[str, str]:
        """Indicator -> dimension."""
        return {i.name: i.dimension for i in self.indicators}

    @property
    def dimension_weights(self) -> dict[str, float]:
        """Dimension -> total weight of its indicators."""
        out = dict.fromkeys(self.dimensions, 0.0)
        for i in self.indicators:
            out[i.dimension] += i.weight
        return out

    @renamed_keywords(groups="subgroups")
    def apply(
        self,
        matrix: Any,
        *,
        k: float | None = None,
        missing: str = "raise",
        subgroups: Any = None,
    ) -> MPIResult:
        """Run :func:`alkire_foster` with this spec on the spec's columns of ``matrix``.

        Parameters
        ----------
        matrix : pandas.DataFrame, polars.DataFrame or numpy.ndarray
            Must hold a column per indicator (other columns are ignored); an array must have
            exactly the spec's indicators as columns, in spec order.
        k : float, optional
            Override the spec's poverty cutoff (e.g. for a robustness check).
        missing : {"raise", "deprived", "reweight"}, default "raise"
            How missing values count, as in :func:`alkire_foster`.
        subgroups : array-like or pandas.Series, optional
            Subgroup label per unit, as in :func:`alkire_foster`. Formerly ``groups``,
            accepted for one release with a FutureWarning.

        Returns
        -------
        MPIResult
            With the spec's dimensions attached (for ``dimension_contributions`` and
            ``explain``).

        Raises
        ------
        ValueError
            If ``matrix`` lacks an indicator of the spec, or as :func:`alkire_foster`.

        Examples
        --------
        >>> import pandas as pd
        >>> from needsid.mpi import load_spec
        >>> spec = load_spec("global_mpi")
        >>> x = pd.DataFrame(1, index=["h1", "h2"], columns=spec.indicator_names)
        >>> spec.apply(x, subgroups=["north", "south"]).subgroups.tolist()
        ['north', 'south']
        """
        return alkire_foster(
            _select(matrix, self.indicator_names),
            self.cutoffs,
            self.weights,
            self.k if k is None else k,
            deprived_if=self.deprived_if,
            missing=missing,
            cardinal=self.cardinal,
            subgroups=subgroups,
            dimensions=self.dimension_of,
        )


def _select(matrix: Any, names: tuple[str, ...]) -> Any:
    if isinstance(matrix, np.ndarray):
        if matrix.ndim != 2 or matrix.shape[1] != len(names):
            raise ValueError(
                f"Got an array of shape {matrix.shape} for a spec with {len(names)} indicators; "
                f"pass a DataFrame with columns {list(names)!r}, or an array with exactly "
                "those columns in that order."
            )
        return pd.DataFrame(matrix, columns=list(names))
    if not isinstance(matrix, pd.DataFrame):
        import narwhals as nw

        try:
            frame = nw.from_native(matrix, eager_only=True)
        except TypeError:
            return matrix  # alkire_foster reports the unsupported type
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise ValueError(f"The matrix has no columns for indicators {missing!r}.")
        return frame.select(list(names)).to_pandas()
    missing = [n for n in names if n not in matrix.columns]
    if missing:
        raise ValueError(f"The matrix has no columns for indicators {missing!r}.")
    return matrix[list(names)]


def _search_dirs() -> list[Path]:
    # a user's configs/mpi first, then the specs shipped inside the package
    dirs = [Path.cwd() / "configs" / "mpi", Path(__file__).resolve().parent / "specs"]
    return list(dict.fromkeys(d.resolve() for d in dirs))


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            model = IndicatorSpec if loc.startswith("indicators.") else MPISpec
            allowed = ", ".join(model.model_fields)
            lines.append(f"{loc}: unknown key (allowed: {allowed})")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{loc}: {msg}" if loc else msg)
    return "\n".join(f"  - {line}" for line in lines)


def _parse(data: Any, source: str) -> MPISpec:
    if not isinstance(data, dict):
        raise ConfigError(
            f"MPI spec {source} must be a mapping of keys, got {type(data).__name__}."
        )
    try:
        return MPISpec(**data)
    except ValidationError as exc:
        lines = _describe(exc)
        problems = [line.removeprefix("  - ") for line in lines.splitlines()]
        raise ConfigError(f"MPI spec {source} is invalid:\n{lines}", problems) from None


def load_spec(spec: MPISpec | dict[str, Any] | str | Path) -> MPISpec:
    """Load an MPI spec from a YAML path, a shipped name, a dict, or pass a spec through.

    Parameters
    ----------
    spec : MPISpec, dict, str or pathlib.Path
        A path to a YAML file, or the name of a spec (e.g. ``"global_mpi"``), looked up
        in the working directory's ``configs/mpi/`` and then among the specs shipped
        with needsid.

    Returns
    -------
    MPISpec
        The validated spec.

    Raises
    ------
    needsid.ConfigError
        If the spec is invalid; every problem is listed, unknown keys by name.
    FileNotFoundError
        If no file or shipped spec has that name.

    Examples
    --------
    >>> from needsid.mpi import load_spec
    >>> spec = load_spec("global_mpi")
    >>> len(spec.indicators), round(spec.k, 4)
    (10, 0.3333)
    >>> {d: round(w, 4) for d, w in spec.dimension_weights.items()}
    {'health': 0.3333, 'education': 0.3333, 'living standards': 0.3333}
    """
    if isinstance(spec, MPISpec):
        return spec
    if isinstance(spec, dict):
        return _parse(spec, "(dict)")
    path = Path(spec)
    if not path.is_file() and path.suffix == "" and len(path.parts) == 1:
        for folder in _search_dirs():
            candidate = folder / f"{path.name}.yaml"
            if candidate.is_file():
                path = candidate
                break
        else:
            looked = ", ".join(str(d) for d in _search_dirs())
            raise FileNotFoundError(
                f"No MPI spec named {str(spec)!r} (looked for {path.name}.yaml in {looked}); "
                "pass a YAML file path or a name such as 'global_mpi'."
            )
    if not path.is_file():
        raise FileNotFoundError(f"MPI spec {str(path)!r} not found; pass a YAML file path.")
    return _parse(safe_load(path.read_text("utf-8"), repr(str(path))), repr(str(path)))


@renamed_keywords(groups="subgroups")
def alkire_foster_from_spec(
    matrix: Any, spec: MPISpec | dict[str, Any] | str | Path, **kwargs: Any
) -> MPIResult:
    """Run :func:`alkire_foster` as a spec prescribes; see :meth:`MPISpec.apply`.

    Parameters
    ----------
    matrix : pandas.DataFrame, polars.DataFrame or numpy.ndarray
        One column per indicator of the spec (other columns are ignored).
    spec : MPISpec, dict, str or pathlib.Path
        Anything :func:`load_spec` accepts, e.g. ``"global_mpi"``.
    **kwargs
        ``k``, ``missing`` and ``subgroups``, as in :meth:`MPISpec.apply` (``groups`` is
        accepted for one release, with a FutureWarning).

    Returns
    -------
    MPIResult
        With the spec's dimensions attached.

    Raises
    ------
    needsid.ConfigError, FileNotFoundError
        If the spec cannot be loaded (see :func:`load_spec`).
    ValueError
        If ``matrix`` lacks an indicator of the spec, or as :func:`alkire_foster`.

    Examples
    --------
    >>> import pandas as pd
    >>> from needsid.mpi import alkire_foster_from_spec, load_spec
    >>> spec = load_spec("global_mpi")
    >>> x = pd.DataFrame(0, index=["h1", "h2"], columns=spec.indicator_names)
    >>> x.loc["h1", ["nutrition", "years_of_schooling"]] = 1
    >>> x.loc["h2", ["electricity", "assets"]] = 1
    >>> res = alkire_foster_from_spec(x, spec)
    >>> res.scores.round(4).tolist(), res.is_poor.tolist()
    ([0.3333, 0.1111], [True, False])
    >>> res.explain("h1").iloc[0]
    'poor: deprived in health (nutrition) and education (years_of_schooling) (score 0.33 >= k 0.33)'
    """  # noqa: E501 - doctest output is one line
    return load_spec(spec).apply(matrix, **kwargs)
