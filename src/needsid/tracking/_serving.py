"""A bounded load test of a served flagging model (``mlflow models serve``)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

__all__ = ["load_test", "request_body"]


def request_body(rows: pd.DataFrame) -> bytes:
    """Return the JSON body MLflow's ``/invocations`` takes for ``rows`` (dataframe_split).

    NaN becomes null (JSON has no NaN); the server reads null as a missing value.
    """
    clean = rows.astype(object).where(rows.notna(), None)
    payload = {
        "dataframe_split": {
            "columns": [str(c) for c in rows.columns],
            "data": clean.to_numpy().tolist(),
        }
    }
    return json.dumps(payload, allow_nan=False).encode("utf-8")


def _post(url: str, body: bytes, timeout: float) -> tuple[float, int, bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            content, status = resp.read(), resp.status
    except urllib.error.HTTPError as err:
        content, status = err.read(), err.code
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        content, status = str(err).encode(), -1
    return time.perf_counter() - start, status, content


def load_test(
    url: str,
    bodies: list[bytes],
    n_requests: int = 2000,
    concurrency: int = 8,
    timeout: float = 30.0,
) -> dict:
    """Send ``n_requests`` POSTs (cycling through ``bodies``), ``concurrency`` at a time.

    Parameters
    ----------
    url : str
        The ``/invocations`` endpoint, e.g. ``http://127.0.0.1:5001/invocations``.
    bodies : list of bytes
        Request bodies, e.g. from :func:`request_body`.
    n_requests, concurrency : int
    timeout : float
        Seconds per request.

    Returns
    -------
    dict
        ``n_requests, concurrency, errors`` (non-200 or failed requests),
        ``p50_ms, p90_ms, p99_ms, max_ms``, ``requests_per_s`` and ``first_error``.
    """
    if not bodies:
        raise ValueError("bodies is empty; pass at least one request body.")
    if n_requests < 1 or concurrency < 1:
        raise ValueError(f"Got n_requests={n_requests}, concurrency={concurrency}; both >= 1.")
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(
            pool.map(lambda i: _post(url, bodies[i % len(bodies)], timeout), range(n_requests))
        )
    wall = time.perf_counter() - start
    lat = np.array([r[0] for r in results]) * 1000
    bad = [r for r in results if r[1] != 200]
    return {
        "n_requests": n_requests,
        "concurrency": concurrency,
        "errors": len(bad),
        "p50_ms": float(np.percentile(lat, 50)),
        "p90_ms": float(np.percentile(lat, 90)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "requests_per_s": n_requests / wall,
        "first_error": None if not bad else f"{bad[0][1]}: {bad[0][2][:300]!r}",
    }
