"""A bounded load test of a served flagging model (``mlflow models serve``)."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._pyfunc import OUTPUT_COLUMNS

__all__ = ["LoadTestResult", "load_test", "request_body"]


def request_body(rows: pd.DataFrame) -> bytes:
    """Return the JSON body MLflow's ``/invocations`` takes for ``rows`` (dataframe_split).

    NaN becomes null (JSON has no NaN); the server reads null as a missing value.

    Parameters
    ----------
    rows : pandas.DataFrame
        ``household_id`` and the model's features, one row per household.

    Returns
    -------
    bytes
        UTF-8 JSON: ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}``.

    Examples
    --------
    >>> import pandas as pd
    >>> from needsid.tracking import request_body
    >>> request_body(pd.DataFrame({"household_id": ["H1", "H2"], "x": [1.0, None]}))
    b'{"dataframe_split": {"columns": ["household_id", "x"], "data": [["H1", 1.0], ["H2", null]]}}'
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


def _rows_in(body: bytes) -> int | None:
    """Rows in a ``dataframe_split`` request body; None for another form."""
    try:
        return len(json.loads(body)["dataframe_split"]["data"])
    except (ValueError, KeyError, TypeError):
        return None


def _check_answer(content: bytes, columns: Iterable[str], n_rows: int | None) -> str | None:
    """Say what is wrong with a 200 answer's body, or None: the columns, a row per household."""
    want = set(columns)
    try:
        predictions = json.loads(content)["predictions"]
    except (ValueError, KeyError, TypeError):
        return "the body is not JSON with 'predictions'"
    if isinstance(predictions, dict):  # one list per column
        keys = [set(predictions)]
        rows = len(next(iter(predictions.values()), []))
    elif isinstance(predictions, list) and all(isinstance(r, dict) for r in predictions):
        keys, rows = [set(r) for r in predictions], len(predictions)
    else:
        return "'predictions' is neither rows nor columns"
    for found in keys:
        if found != want:
            return f"columns {sorted(found)!r}, expected {sorted(want)!r}"
    if n_rows is not None and rows != n_rows:
        return f"{rows} rows for {n_rows} households sent"
    return None


@dataclass(frozen=True)
class LoadTestResult:
    """What a load test of a served model measured.

    Made by :func:`load_test`; the fields are also attributes.

    Parameters
    ----------
    n_requests : int
        Requests sent.
    concurrency : int
        Requests in flight at once.
    n_ok : int
        Requests answered 200 with one row per household and the expected columns.
    errors : int
        The others: another status, a malformed answer, or no answer.
    statuses : dict of int to int
        Answers by HTTP status; -1 counts requests that got none (refused, timed out).
    p50_ms, p90_ms, p99_ms, max_ms : float
        Latency percentiles and maximum over all requests, in milliseconds.
    requests_per_s : float
        Requests over the wall-clock time of the whole test.
    first_error : str or None
        The first error's status and the start of its body.

    Examples
    --------
    >>> from needsid.tracking import LoadTestResult
    >>> result = LoadTestResult(n_requests=10, concurrency=2, n_ok=9, errors=1,
    ...                         statuses={200: 9, 503: 1}, p50_ms=4.0, p90_ms=6.0,
    ...                         p99_ms=9.5, max_ms=10.0, requests_per_s=400.0,
    ...                         first_error="503: b'busy'")
    >>> result.n_ok / result.n_requests
    0.9
    """

    n_requests: int
    concurrency: int
    n_ok: int
    errors: int
    statuses: dict[int, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests_per_s: float
    first_error: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return the figures as a plain dict (JSON-ready: status codes become strings).

        Returns
        -------
        dict
            Field name -> value; ``statuses`` keyed by the status code as a string.

        Examples
        --------
        >>> import json
        >>> from needsid.tracking import LoadTestResult
        >>> result = LoadTestResult(10, 2, 10, 0, {200: 10}, 4.0, 6.0, 9.5, 10.0, 400.0, None)
        >>> json.dumps(result.to_dict()["statuses"])
        '{"200": 10}'
        """
        out = dataclasses.asdict(self)
        out["statuses"] = {str(k): v for k, v in self.statuses.items()}
        return out


def load_test(
    url: str,
    bodies: list[bytes],
    n_requests: int = 2000,
    concurrency: int = 8,
    timeout: float = 30.0,
    *,
    columns: Sequence[str] | None = OUTPUT_COLUMNS,
) -> LoadTestResult:
    """Send ``n_requests`` POSTs (cycling through ``bodies``), ``concurrency`` at a time.

    A request counts as answered well when the status is 200 and the body holds
    ``predictions`` with ``columns`` and, for a ``dataframe_split`` body, one row per
    household sent.

    Parameters
    ----------
    url : str
        The ``/invocations`` endpoint, e.g. ``http://127.0.0.1:5001/invocations``.
    bodies : list of bytes
        Request bodies, e.g. from :func:`request_body`.
    n_requests : int, default=2000
        Requests to send in all.
    concurrency : int, default=8
        Requests in flight at once (threads).
    timeout : float, default=30.0
        Seconds per request.
    columns : sequence of str or None, default=OUTPUT_COLUMNS
        The columns every answer must hold; None accepts any 200 answer.

    Returns
    -------
    LoadTestResult
        Counts, statuses and latency percentiles.

    Raises
    ------
    ValueError
        If there are no bodies, or ``n_requests`` or ``concurrency`` is below 1.

    Examples
    --------
    A stand-in server that answers every household with empty outputs:

    >>> import http.server, threading
    >>> class Stub(http.server.BaseHTTPRequestHandler):
    ...     def do_POST(self):
    ...         sent = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
    ...         rows = [dict.fromkeys(OUTPUT_COLUMNS)] * len(sent["dataframe_split"]["data"])
    ...         body = json.dumps({"predictions": rows}).encode()
    ...         self.send_response(200)
    ...         self.send_header("Content-Length", str(len(body)))
    ...         self.end_headers()
    ...         self.wfile.write(body)
    ...     def log_message(self, *args):
    ...         pass
    >>> server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    >>> threading.Thread(target=server.serve_forever, daemon=True).start()
    >>> url = f"http://127.0.0.1:{server.server_port}/invocations"
    >>> body = request_body(pd.DataFrame({"household_id": ["H1", "H2"], "x": [1.0, None]}))
    >>> result = load_test(url, [body], n_requests=20, concurrency=4)
    >>> result.n_ok, result.errors, result.statuses
    (20, 0, {200: 20})
    >>> server.shutdown(); server.server_close()
    """
    if not bodies:
        raise ValueError("bodies is empty; pass at least one request body.")
    if n_requests < 1 or concurrency < 1:
        raise ValueError(f"Got n_requests={n_requests}, concurrency={concurrency}; both >= 1.")
    rows = [_rows_in(b) for b in bodies]

    def one(i: int) -> tuple[float, int, str | None]:
        seconds, status, content = _post(url, bodies[i % len(bodies)], timeout)
        if status != 200:
            return seconds, status, f"{status}: {content[:300]!r}"
        wrong = None if columns is None else _check_answer(content, columns, rows[i % len(rows)])
        return seconds, status, None if wrong is None else f"200 but {wrong}"

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(n_requests)))
    wall = time.perf_counter() - start
    lat = np.array([r[0] for r in results]) * 1000
    bad = [r[2] for r in results if r[2] is not None]
    return LoadTestResult(
        n_requests=n_requests,
        concurrency=concurrency,
        n_ok=n_requests - len(bad),
        errors=len(bad),
        statuses=dict(sorted(Counter(r[1] for r in results).items())),
        p50_ms=float(np.percentile(lat, 50)),
        p90_ms=float(np.percentile(lat, 90)),
        p99_ms=float(np.percentile(lat, 99)),
        max_ms=float(lat.max()),
        requests_per_s=n_requests / wall,
        first_error=bad[0] if bad else None,
    )
