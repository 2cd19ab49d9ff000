"""Breaking M0 down: by population subgroup, by dimension, and per unit as reason text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._deprecate import renamed_keywords
from ._inputs import align_subgroups

if TYPE_CHECKING:
    from ._result import MPIResult

__all__ = ["decompose", "dimension_contributions", "explain"]


@renamed_keywords(groups="subgroups")
def decompose(result: MPIResult, subgroups: Any = None) -> pd.DataFrame:
    """Decompose the measures by population subgroup.

    The poor are identified once, on the whole population (same cutoffs, weights and k);
    each subgroup's measures are then means over its own units. M0 is population-subgroup
    decomposable: ``M0 = sum_g share_g * M0_g``, and so are M1 and M2.

    Parameters
    ----------
    result : MPIResult
        Output of :func:`alkire_foster`.
    subgroups : array-like or pandas.Series, optional
        Subgroup label per unit: a Series indexed by the unit ids, or one label per row
        in matrix order. Default: the ``subgroups`` given to :func:`alkire_foster`.
        Formerly ``groups``, accepted for one release with a FutureWarning.

    Returns
    -------
    pandas.DataFrame
        One row per subgroup (sorted), indexed by the Series' name or ``"subgroup"``,
        with ``n``, ``population_share``, ``n_poor``, ``H``, ``A`` (NaN if the subgroup
        has no poor), ``M0``, ``M1``, ``M2`` and ``contribution``, the subgroup's share
        of M0 (``population_share * M0_g / M0``; NaN if M0 = 0).

    Raises
    ------
    ValueError
        If there are no subgroups (none given here or to :func:`alkire_foster`), or the
        labels do not match the units (length, index, missing labels).

    Examples
    --------
    >>> import numpy as np
    >>> from needsid.mpi import alkire_foster
    >>> x = np.array([[0, 0], [0, 1], [1, 1], [0, 0]])
    >>> res = alkire_foster(x, [1, 1], k=0.5)
    >>> table = decompose(res, ["north", "north", "south", "south"])
    >>> table.reset_index()[["subgroup", "n", "population_share", "H", "M0", "contribution"]]
      subgroup  n  population_share    H    M0  contribution
    0    north  2               0.5  1.0  0.75           0.6
    1    south  2               0.5  0.5  0.50           0.4
    """
    if subgroups is None:
        labels = result.subgroups
        if labels is None:
            raise ValueError(
                "No subgroups to decompose by: pass subgroups= here or to alkire_foster()."
            )
    else:
        labels = align_subgroups(subgroups, result.scores.index)
    m = result._m
    units = pd.DataFrame(
        {
            "subgroup": labels.to_numpy(),
            "n": 1,
            "n_poor": m.poor.astype(int),
            "censored": m.censored_scores,
            "g1": m.gap_scores,
            "g2": m.squared_gap_scores,
        }
    )
    sums = units.groupby("subgroup", sort=True, observed=True).sum()
    n = sums["n"]
    table = pd.DataFrame(
        {
            "n": n,
            "population_share": n / result.n,
            "n_poor": sums["n_poor"],
            "H": sums["n_poor"] / n,
            # A is undefined (NaN) for a subgroup without poor units.
            "A": sums["censored"] / sums["n_poor"].where(sums["n_poor"] > 0),
            "M0": sums["censored"] / n,
            "M1": sums["g1"] / n,
            "M2": sums["g2"] / n,
        }
    )
    table["contribution"] = (
        table["population_share"] * table["M0"] / result.M0 if result.M0 > 0 else np.nan
    )
    table.index.name = labels.name if labels.name is not None else "subgroup"
    return table


def _dimensions(result: MPIResult, dimensions: Mapping[str, str] | None) -> dict[str, str]:
    if dimensions is None:
        dims = result.dimensions
        if dims is None:
            raise ValueError(
                "No dimensions known for this result: pass dimensions={indicator: dimension} "
                "or compute it from a spec (alkire_foster_from_spec)."
            )
        return dims
    dims = {str(i): str(d) for i, d in dimensions.items()}
    missing = [n for n in result.indicators if n not in dims]
    if missing:
        raise ValueError(
            f"dimensions misses indicators {missing!r}; map every indicator to its "
            "dimension, e.g. {'nutrition': 'health', ...}."
        )
    return dims


def dimension_contributions(
    result: MPIResult, dimensions: Mapping[str, str] | None = None
) -> pd.Series:
    """Each dimension's share of M0: the indicator contributions summed by dimension.

    Parameters
    ----------
    result : MPIResult
        Output of :func:`alkire_foster`.
    dimensions : mapping str -> str, optional
        Indicator -> dimension for every indicator. Default: the mapping kept by the result
        (given to :func:`alkire_foster` or taken from a spec).

    Returns
    -------
    pandas.Series
        Share of M0 per dimension, in order of first appearance; sums to 1 (NaN if M0 = 0).

    Examples
    --------
    >>> import numpy as np
    >>> from needsid.mpi import alkire_foster
    >>> res = alkire_foster(np.array([[0, 0, 1], [0, 1, 1]]), [1, 1, 1], k=1 / 3)
    >>> dimension_contributions(res, {"x0": "health", "x1": "education", "x2": "education"})
    health       0.666667
    education    0.333333
    Name: contribution, dtype: float64
    """
    dims = _dimensions(result, dimensions)
    contrib = result.contributions
    order = list(dict.fromkeys(dims[n] for n in result.indicators))
    out = contrib.groupby([dims[n] for n in contrib.index], sort=False).sum(min_count=1)
    return out.reindex(order).rename("contribution")


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def explain(
    result: MPIResult,
    unit_ids: Any = None,
    dimensions: Mapping[str, str] | None = None,
) -> pd.Series:
    """One line per unit saying where it is deprived, its score and whether it is poor.

    Parameters
    ----------
    result : MPIResult
        Output of :func:`alkire_foster`.
    unit_ids : id or list of ids, optional
        Units to explain (the matrix index). Default: all.
    dimensions : mapping str -> str, optional
        Indicator -> dimension; deprivations are then grouped by dimension. Default: the
        mapping kept by the result, if any, else indicators are listed alone.

    Returns
    -------
    pandas.Series
        Text per unit id, e.g. ``"poor: deprived in health (nutrition) and education
        (school_attendance) (score 0.33 >= k 0.33)"``. A missing value counted as deprived
        is marked "(missing)"; under ``missing="reweight"`` unobserved indicators are named.

    Examples
    --------
    >>> import pandas as pd
    >>> from needsid.mpi import alkire_foster
    >>> x = pd.DataFrame({"meals": [1, 3], "school": [0, 1], "water": [0, 1]}, index=["a", "b"])
    >>> res = alkire_foster(x, {"meals": 2, "school": 1, "water": 1}, k=0.5)
    >>> dims = {"meals": "health", "school": "education", "water": "living standards"}
    >>> explain(res, "a", dims).iloc[0]
    'poor: deprived in health (meals), education (school) and living standards (water) (score 1.00 >= k 0.50)'
    >>> explain(res, ["b"]).iloc[0]
    'not poor: no deprivations (score 0.00 < k 0.50)'
    """  # noqa: E501 - doctest output is one line
    ids = result.scores.index
    if unit_ids is None:
        chosen = ids
    else:
        if isinstance(unit_ids, str) or not isinstance(unit_ids, Iterable):
            unit_ids = [unit_ids]
        chosen = pd.Index(list(unit_ids))
        unknown = chosen[~chosen.isin(ids)].tolist()
        if unknown:
            raise KeyError(f"Unknown unit ids {unknown!r}; ids are the index of the matrix.")
    if dimensions is not None or result.dimensions is not None:
        dims = _dimensions(result, dimensions)
    else:
        dims = None
    p, m = result._p, result._m
    rows = ids.get_indexer(chosen)
    names = result.indicators
    texts = []
    for i in rows:
        labels = []
        for j in np.flatnonzero(p.g0[i] == 1):
            flag = " (missing)" if p.missing[i, j] else ""
            labels.append((names[j], names[j] + flag))
        if dims is None:
            where = _join([label for _, label in labels])
        else:
            by_dim: dict[str, list[str]] = {}
            for name, label in labels:
                by_dim.setdefault(dims[name], []).append(label)
            where = _join([f"{d} ({', '.join(v)})" for d, v in by_dim.items()])
        status = "poor" if m.poor[i] else "not poor"
        cmp = ">=" if m.poor[i] else "<"
        text = f"{status}: " + (f"deprived in {where}" if labels else "no deprivations")
        text += f" (score {p.scores[i]:.2f} {cmp} k {m.k:.2f})"
        unobserved = [names[j] for j in np.flatnonzero(np.isnan(p.g0[i]))]
        if unobserved:
            text += f"; not observed: {', '.join(unobserved)}"
        texts.append(text)
    return pd.Series(texts, index=chosen, name="explanation", dtype=object)
