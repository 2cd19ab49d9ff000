"""Save and load a fitted EBMRiskModel as JSON: its term tables, predicted from by us.

interpret can export an EBM as JSON (``ebm.to_json``) but, as of interpret 0.7, reads it
back only through a private, "UNTESTED" function that warns the format may change. The
document here holds what prediction needs (per-feature bin cuts, each term's features
and score table, the intercept) and a loaded model evaluates the terms itself, exactly
as interpret does: a NaN falls in bin 0, a value ``x`` in bin ``1 + #{cuts <= x}``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import numpy.typing as npt
from sklearn.utils.validation import check_is_fitted

from ._json import header, read_document, restore_header

if TYPE_CHECKING:  # the mixin's methods use the estimator they are mixed into
    from ._base import RiskModel as _Estimator
else:
    _Estimator = object

__all__ = ["EBMJSONMixin"]

FORMAT = "needsid.EBMRiskModel"
VERSION = 1


class _TermTables:
    """Stands in for the fitted ExplainableBoostingClassifier the model reads.

    Holds its fitted ``bins_``, ``term_features_``, ``term_scores_``, ``intercept_`` and
    ``link_`` and evaluates the terms the way interpret's ``eval_terms`` does.
    """

    def __init__(
        self,
        bins: list[list[npt.NDArray[np.float64]]],
        term_features: list[tuple[int, ...]],
        term_scores: list[npt.NDArray[np.float64]],
        intercept: float,
        link: str,
    ) -> None:
        self.bins_ = bins
        self.term_features_ = term_features
        self.term_scores_ = term_scores
        self.intercept_ = np.array([intercept])
        self.link_ = link

    def eval_terms(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Each row's score of each term, shape (n_samples, n_terms)."""
        # Fortran order like interpret's, so that summing over terms adds in its order
        out = np.empty((X.shape[0], len(self.term_features_)), np.float64, order="F")
        binned: dict[tuple[int, int], npt.NDArray[np.intp]] = {}
        for t, features in enumerate(self.term_features_):
            index = []
            for j in features:
                # a pair term may use coarser cuts than the feature's main term
                level = min(len(self.bins_[j]), len(features)) - 1
                if (j, level) not in binned:
                    cuts, x = self.bins_[j][level], X[:, j]
                    bins = np.searchsorted(cuts, x, side="right") + 1
                    binned[j, level] = np.where(np.isnan(x), 0, bins)
                index.append(binned[j, level])
            out[:, t] = self.term_scores_[t][tuple(index)]
        return out


def _floats(a: npt.ArrayLike) -> list[Any]:
    # nested lists for a pair term's 2-D score table
    floats: list[Any] = np.asarray(a, dtype=np.float64).tolist()
    return floats


class EBMJSONMixin(_Estimator):
    """``to_json`` / ``from_json`` for :class:`EBMRiskModel`."""

    def to_json(self, indent: int | None = None) -> str:
        """Return the fitted model as a JSON document (see :meth:`from_json`).

        The document holds the shape functions as numbers (bin cuts and scores per
        term, the intercept), written with Python's shortest round-trip float repr, so
        a loaded model predicts exactly what this one does, with no pickled code.

        Parameters
        ----------
        indent : int or None, default=None
            Indentation of the JSON text; None writes it on one line.

        Returns
        -------
        str
            The JSON document, with ``"format": "needsid.EBMRiskModel"``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import EBMRiskModel
        >>> X, y = make_classification(n_samples=200, n_features=3, n_redundant=0,
        ...                            random_state=0)
        >>> model = EBMRiskModel(outer_bags=1, max_rounds=100).fit(X, y)
        >>> loaded = EBMRiskModel.from_json(model.to_json())
        >>> bool((loaded.predict_proba(X) == model.predict_proba(X)).all())
        True
        """
        check_is_fitted(self)
        params = self.get_params(deep=False)
        if not isinstance(params["random_state"], int | None):
            params["random_state"] = None  # a RandomState instance has no JSON form
        if params["monotone_constraints"] is not None:
            params["monotone_constraints"] = dict(params["monotone_constraints"])
        ebm = self.estimator_
        doc = {
            **header(self, FORMAT, VERSION, params),
            "link": str(ebm.link_),
            "intercept": float(np.ravel(ebm.intercept_)[0]),
            # per feature, the cuts of each interaction level (mains first, then pairs)
            "bins": [[_floats(cuts) for cuts in levels] for levels in ebm.bins_],
            "terms": [
                {"features": [int(j) for j in features], "scores": _floats(scores)}
                for features, scores in zip(ebm.term_features_, ebm.term_scores_, strict=True)
            ],
        }
        return json.dumps(doc, indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Rebuild a fitted model from :meth:`to_json` output.

        Parameters
        ----------
        text : str
            The JSON document.

        Returns
        -------
        EBMRiskModel
            Fitted: ``predict_proba``, ``predict`` and ``explain`` give exactly the saved
            model's results; ``estimator_`` holds the term tables (not an interpret
            estimator), and ``fit`` starts afresh.

        Raises
        ------
        ValueError
            If ``text`` is not a version-1 ``needsid.EBMRiskModel`` document, or its
            link is not the logit of a binary classifier.

        Examples
        --------
        >>> from needsid.models import EBMRiskModel
        >>> EBMRiskModel.from_json('{"format": "needsid.GBMRiskModel", "version": 1}')
        Traceback (most recent call last):
        ...
        ValueError: Got a JSON document without format='needsid.EBMRiskModel'; expected the output of EBMRiskModel.to_json().
        """  # noqa: E501
        doc = read_document(text, FORMAT, VERSION, "EBMRiskModel.to_json()")
        if doc["link"] != "logit":
            raise ValueError(
                f"Got an EBMRiskModel document with link={doc['link']!r}; expected 'logit', "
                "the link of a binary classifier. Save the model again with EBMRiskModel."
            )
        model = restore_header(cls, doc)
        bins = [
            [np.ascontiguousarray(cuts, dtype=np.float64) for cuts in levels]
            for levels in doc["bins"]
        ]
        terms = [tuple(t["features"]) for t in doc["terms"]]
        scores = [np.asarray(t["scores"], dtype=np.float64) for t in doc["terms"]]
        model.estimator_ = _TermTables(bins, terms, scores, doc["intercept"], doc["link"])
        return model
