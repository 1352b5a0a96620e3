"""Aggregates over time windows, computed from the record arrays."""

from __future__ import annotations

import numpy as np

from . import _validate
from .outcomes import Outcome
from .records import Steps


def finite_quantile(values, q: float) -> float:
    """The ``q`` quantile of the finite values (NaN for unanswered calls is left out); NaN if there are none."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(np.quantile(values, q)) if values.size else float("nan")


def window_edges(until: float, width: float, start: float = 0.0) -> np.ndarray:
    """Edges of back-to-back windows of ``width`` seconds covering [start, until]."""
    _validate.positive("width", width)
    if not until > start:
        raise ValueError(f"until must be after start ({start!r}), got {until!r}")
    count = int(np.ceil((until - start) / width - 1e-9))
    return start + width * np.arange(count + 1)


def window_centres(edges: np.ndarray) -> np.ndarray:
    """The middle of each window."""
    return (edges[:-1] + edges[1:]) / 2


def windowed_quantiles(times, values, edges, quantiles=(0.5, 0.99)) -> np.ndarray:
    """Quantiles of ``values`` grouped by the window their ``times`` fall in.

    Returns an array of shape (len(quantiles), windows), NaN where a window
    is empty. Quantiles use the nearest-rank-with-interpolation rule of
    :func:`numpy.quantile`.
    """
    times = np.asarray(times, dtype=float)
    values = np.asarray(values, dtype=float)
    windows = len(edges) - 1
    out = np.full((len(quantiles), windows), np.nan)
    keep = np.isfinite(times) & np.isfinite(values) & (times >= edges[0]) & (times < edges[-1])
    if not keep.any():
        return out
    index = np.searchsorted(edges, times[keep], side="right") - 1
    order = np.lexsort((values[keep], index))
    index, sorted_values = index[order], values[keep][order]
    bounds = np.searchsorted(index, np.arange(windows + 1))
    counts = np.diff(bounds)
    filled = counts > 0
    for row, q in enumerate(quantiles):
        position = bounds[:-1] + q * (counts - 1)
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, bounds[1:] - 1)
        low, high = low[filled], high[filled]
        weight = position[filled] - low
        out[row, filled] = sorted_values[low] * (1 - weight) + sorted_values[high] * weight
    return out


def windowed_rate(times, edges, mask=None) -> np.ndarray:
    """Events per second in each window (optionally only where ``mask`` is true)."""
    times = np.asarray(times, dtype=float)
    if mask is not None:
        times = times[np.asarray(mask, dtype=bool)]
    counts, _ = np.histogram(times[np.isfinite(times)], bins=edges)
    return counts / np.diff(edges)


def windowed_mean_of_steps(step_times, step_values, edges) -> np.ndarray:
    """Time-average of a step function (value holds from each time to the next) over each window."""
    t = np.asarray(step_times, dtype=float)
    v = np.asarray(step_values, dtype=float)
    # Integral of the step function from t[0] up to any x, then differences at the edges.
    cumulative = np.concatenate(([0.0], np.cumsum(v[:-1] * np.diff(t))))

    def integral(x):
        i = np.clip(np.searchsorted(t, x, side="right") - 1, 0, len(t) - 1)
        return cumulative[i] + v[i] * (x - t[i])

    area = integral(edges)
    return np.diff(area) / np.diff(edges)


def summarise(records: dict, *, arrival="arrival", end="end") -> dict:
    """Headline numbers from a record dict: counts, success share, mean and p50/p99/p99.9 latency of answered calls."""
    answered = np.isfinite(records[end])
    latency = (records[end] - records[arrival])[answered]
    ok = records["outcome"] == int(Outcome.OK)
    result = {
        "count": int(len(records[end])),
        "answered": int(answered.sum()),
        "ok": int(ok.sum()),
        "success_rate": float(ok.mean()) if len(ok) else float("nan"),
    }
    if latency.size:
        result["mean"] = float(latency.mean())
        for name, q in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999)):
            result[name] = float(np.quantile(latency, q))
    else:
        result.update(mean=float("nan"), p50=float("nan"), p99=float("nan"), p999=float("nan"))
    return result


def amplification(attempt_roots, request_count: int) -> float:
    """Attempts per top-level request (1.0 means no retries at all)."""
    if request_count <= 0:
        raise ValueError(f"request_count must be > 0, got {request_count!r}")
    return len(attempt_roots) / request_count


def windowed(requests: dict, edges, attempts: dict | None = None, *, start="start", end="end") -> dict:
    """The standard per-window dashboard numbers for a set of request records.

    ``requests`` is a record dict with ``start``/``end``/``outcome`` (as from
    :meth:`OpenLoop.records` or a client's ``call_records()``; for a service's
    own records pass ``start="arrival"``). Returns arrays, one value per window:

    * ``throughput`` — requests answered per second (by answer time);
    * ``goodput`` — requests answered successfully per second (a fallback counts);
    * ``p50``, ``p99``, ``p999`` — latency quantiles of requests by start time (s);
    * ``in_flight`` — mean number of requests started and not yet answered;
    * ``amplification`` — attempts sent per request started, if ``attempts``
      (per-attempt records with ``sent``) is given.
    """
    edges = np.asarray(edges, dtype=float)
    begun = np.asarray(requests[start], dtype=float)
    ended = np.asarray(requests[end], dtype=float)
    outcome = np.asarray(requests["outcome"])
    good = (outcome == int(Outcome.OK)) | (outcome == int(Outcome.FALLBACK))
    quantiles = windowed_quantiles(begun, ended - begun, edges, (0.5, 0.99, 0.999))
    in_flight = Steps.from_intervals(begun, ended, start=edges[0])
    result = {
        "throughput": windowed_rate(ended, edges),
        "goodput": windowed_rate(ended, edges, good),
        "p50": quantiles[0], "p99": quantiles[1], "p999": quantiles[2],
        "in_flight": windowed_mean_of_steps(*in_flight.arrays(), edges),
    }
    if attempts is not None:
        started = windowed_rate(begun, edges)
        sent = windowed_rate(attempts["sent"], edges)
        with np.errstate(invalid="ignore", divide="ignore"):
            result["amplification"] = np.where(started > 0, sent / np.where(started > 0, started, 1), np.nan)
    return result


#: Numeric codes for breaker states in :func:`breaker_states`.
BREAKER_STATE_CODES = {"closed": 0, "half_open": 1, "open": 2}


def breaker_states(transitions, edges) -> np.ndarray:
    """The share of each window a circuit breaker spent open (1.0 = open all window long).

    ``transitions`` is a breaker's ``(time, state)`` list. Half-open time
    counts as half open, so the curve shows probing as a step between 0 and 1.
    """
    times = np.array([t for t, _ in transitions], dtype=float)
    values = np.array([BREAKER_STATE_CODES[s] / 2 for _, s in transitions], dtype=float)
    return windowed_mean_of_steps(times, values, np.asarray(edges, dtype=float))
