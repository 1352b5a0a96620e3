"""Aggregates over time windows, computed from the record arrays."""

from __future__ import annotations

import numpy as np

from . import _validate
from .outcomes import Outcome


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
