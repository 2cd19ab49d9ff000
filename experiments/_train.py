"""Fit the LightGBM risk model the way several experiments need it."""

from __future__ import annotations

import datetime as dt

import polars as pl

import needsid as ni
from needsid.models import GBMRiskModel


def fit_gbm(
    pop: ni.simulation.SimulatedPopulation,
    origins: list[dt.date],
    horizon: int,
    source: str,
    params: dict,
) -> GBMRiskModel:
    """Train a GBMRiskModel on features and labels at each of ``origins``, stacked.

    ``source`` is a ``ni.labels.make`` source: ``"pu"`` reads the bundle alone (what a
    county has), ``"truth"`` the simulator's truth (research). ``params`` are the
    training run's (``_config.train_params``); the model runs on one thread with
    ``random_state=0`` (on a shared 2-core machine LightGBM's second thread spin-waits).
    """
    frames = []
    for d in origins:
        X = ni.features.build(pop.bundle, d)
        data = pop if source == "truth" else pop.bundle
        y = ni.labels.make(data, d, horizon, source=source, features=X if source == "pu" else None)
        y = y.select(
            "household_id", pl.col("in_need").fill_null(False), pl.col("weight").fill_null(0.0)
        )
        frames.append(X.join(y, on="household_id", how="inner"))
    train = pl.concat(frames).filter(pl.col("weight") > 0)
    names = list(ni.features.describe()["name"])
    model = GBMRiskModel(**{**params, "n_jobs": 1, "random_state": 0})
    return model.fit(
        train.select(names).to_pandas(),
        train["in_need"].to_numpy(),
        sample_weight=train["weight"].to_numpy(),
    )
