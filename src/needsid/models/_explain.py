"""Reason codes: per-household contributions in probability points, by feature or dimension.

Every model hands over additive contributions on its log-odds (or other monotone) scale;
this module converts them to probability points, maps features to deprivation
dimensions and builds the one long table all models return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["DIMENSION_RULES", "REASON_COLUMNS", "default_dimensions", "feature_dimension"]

#: Columns of ``model.explain(X)``; ``by_dimension=True`` drops ``feature`` and ``value``.
REASON_COLUMNS = ("row_id", "feature", "value", "contribution", "dimension")

#: Feature-name keywords per deprivation dimension, tried in this order (first match wins).
#: ``care`` comes before ``health`` so ``n_severe_disability`` and
#: ``months_disability_care_subsidy_12m`` count as care needs, not as health.
DIMENSION_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("care", ("elderly", "care", "severe", "alone")),
    ("health", ("hospital", "medical", "chronic", "disability")),
    ("education", ("school", "education")),
    ("income", ("income", "wage", "pension", "net_income", "survey")),
    ("living_standards", ("housing", "vehicle", "propert", "deposit", "business")),
    ("employment", ("unemployment", "employment", "earner")),
    ("coverage", ("invisibility", "record", "sources", "kinds")),
)
OTHER = "other"


def feature_dimension(name: str) -> str:
    """Return the deprivation dimension a feature belongs to, by :data:`DIMENSION_RULES`.

    Parameters
    ----------
    name : str
        A feature name; matched case-insensitively against the keywords.

    Returns
    -------
    str
        The first dimension with a keyword in ``name``, else ``"other"``.

    Examples
    --------
    >>> from needsid.models import feature_dimension
    >>> feature_dimension("income_to_low_income_line"), feature_dimension("n_severe_disability")
    ('income', 'care')
    >>> feature_dimension("hh_size")
    'other'
    """
    lowered = name.lower()
    for dimension, keywords in DIMENSION_RULES:
        if any(k in lowered for k in keywords):
            return dimension
    return OTHER


def default_dimensions(
    feature_names: Sequence[str], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Map each feature to a dimension: ``overrides`` first, then :func:`feature_dimension`.

    Parameters
    ----------
    feature_names : sequence of str
        The model's features.
    overrides : mapping of str to str, optional
        Feature -> dimension, for features the name rules place wrongly.

    Returns
    -------
    dict of str to str
        Feature -> dimension, in the order of ``feature_names``.

    Raises
    ------
    ValueError
        If ``overrides`` names a feature not in ``feature_names``.

    Examples
    --------
    >>> from needsid.models import default_dimensions
    >>> default_dimensions(["wage_pc_3m", "hh_size"], {"hh_size": "care"})
    {'wage_pc_3m': 'income', 'hh_size': 'care'}
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(feature_names))
    if unknown:
        raise ValueError(
            f"Got dimensions for {unknown!r}, which are not features of the model; "
            f"the model's features are {_preview(feature_names)}."
        )
    return {n: overrides.get(n, feature_dimension(n)) for n in feature_names}


def probability_points(
    phi: np.ndarray, p: np.ndarray, p_base: float, slope_at_base: float
) -> np.ndarray:
    """Convert additive log-odds contributions ``phi`` (n x p) to probability points.

    Each feature gets its share of the log-odds change times the probability change,
    ``phi_j / sum(phi) * (p - p_base)``, so a row's contributions add up to exactly
    ``p - p_base``. Where ``sum(phi)`` is ~0 the secant slope is replaced by the link's
    slope at the base value (its limit).
    """
    total = phi.sum(axis=1)
    tiny = np.abs(total) < 1e-9
    slope = np.where(tiny, slope_at_base, (p - p_base) / np.where(tiny, 1.0, total))
    return phi * slope[:, None]


def reason_table(
    contributions: np.ndarray,
    values: np.ndarray,
    feature_names: Sequence[str],
    row_ids: np.ndarray,
    *,
    top: int | None,
    dimensions: Mapping[str, str],
    by_dimension: bool,
) -> pd.DataFrame:
    """Long table of the ``top`` contributions per row, largest ``|contribution|`` first."""
    n, p = contributions.shape
    dims = np.array([dimensions[f] for f in feature_names], dtype=object)
    if by_dimension:
        labels, codes = np.unique(dims, return_inverse=True)
        summed = np.zeros((n, len(labels)))
        for k in range(len(labels)):
            summed[:, k] = contributions[:, codes == k].sum(axis=1)
        order = _top_order(summed, top)
        rows = np.repeat(np.arange(n), order.shape[1])
        return pd.DataFrame(
            {
                "row_id": row_ids[rows],
                "dimension": labels[order.ravel()].astype(str),
                "contribution": np.take_along_axis(summed, order, axis=1).ravel(),
            }
        )
    order = _top_order(contributions, top)
    rows = np.repeat(np.arange(n), order.shape[1])
    cols = order.ravel()
    names = np.asarray(feature_names, dtype=object)
    return pd.DataFrame(
        {
            "row_id": row_ids[rows],
            "feature": names[cols].astype(str),
            "value": values[rows, cols],
            "contribution": contributions[rows, cols],
            "dimension": dims[cols].astype(str),
        }
    )


def _top_order(matrix: np.ndarray, top: int | None) -> np.ndarray:
    # stable sort keeps column order among ties, so equal contributions list predictably
    order = np.argsort(-np.abs(matrix), axis=1, kind="stable")
    return order if top is None else order[:, :top]


def _preview(names: Sequence[str], k: int = 8) -> str:
    names = list(names)
    shown = ", ".join(repr(n) for n in names[:k])
    return f"[{shown}{', ...' if len(names) > k else ''}] ({len(names)} in all)"
