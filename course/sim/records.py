"""Column-oriented logs that become numpy arrays when a run is over.

Columns are :class:`array.array` objects: appending a number costs about as
much as appending to a list, and, unlike a list of row lists, the columns
give Python's cycle collector nothing to walk through on long runs.
"""

from __future__ import annotations

from array import array

import numpy as np

_TYPECODES = {"f8": "d", "i8": "q", "i4": "q", "i1": "q"}


class Log:
    """A table with a fixed set of numeric columns.

    ``Log(root="i8", start="f8")`` declares the columns and the numpy dtypes
    they come back as. Hot paths append to the column arrays directly
    (``log.column("start").append(t)``) and fill in values known only later
    by row index (``log.column("end")[row] = t``).
    """

    def __init__(self, **columns):
        for name, dtype in columns.items():
            if dtype not in _TYPECODES:
                raise ValueError(f"column {name!r} has dtype {dtype!r}; valid dtypes: {', '.join(_TYPECODES)}")
        self.dtypes = columns
        self.names = tuple(columns)
        self.columns = {name: array(_TYPECODES[dtype]) for name, dtype in columns.items()}

    def column(self, name: str) -> array:
        """The live array behind ``name``."""
        return self.columns[name]

    def append(self, *values) -> int:
        """Add one row, values in column order; returns the row's index."""
        for column, value in zip(self.columns.values(), values):
            column.append(value)
        return len(self) - 1

    def __len__(self):
        return len(self.columns[self.names[0]])

    def arrays(self) -> dict[str, np.ndarray]:
        """Every column as a numpy array of its declared dtype (a copy)."""
        return {name: np.frombuffer(self.columns[name], dtype="f8" if _TYPECODES[dtype] == "d" else "i8")
                .astype(dtype) for name, dtype in self.dtypes.items()}


class Steps:
    """A quantity that changes in steps (busy workers, queue length, calls in flight).

    ``times[i]`` is when the quantity became ``values[i]``; it holds until
    the next time. Built after a run from the intervals in a log, so the hot
    path records nothing extra.
    """

    __slots__ = ("times", "values", "start")

    def __init__(self, times, values, start: float = 0.0):
        self.times = np.asarray(times, dtype=float)
        self.values = np.asarray(values, dtype=float)
        self.start = start

    @classmethod
    def from_intervals(cls, begins, ends, start: float = 0.0, now: float | None = None) -> "Steps":
        """Count how many ``[begin, end)`` intervals are open at each moment.

        A NaN ``end`` means still open (at ``now``). When one interval ends
        at the instant another begins, the end is counted first, so the
        count never shows a phantom peak.
        """
        begins = np.asarray(begins, dtype=float)
        ends = np.asarray(ends, dtype=float)
        keep = np.isfinite(begins)
        begins, ends = begins[keep], ends[keep]
        ends = ends[np.isfinite(ends)]
        times = np.concatenate((begins, ends))
        deltas = np.concatenate((np.ones(begins.size), -np.ones(ends.size)))
        order = np.lexsort((deltas, times))
        values = np.concatenate(([0.0], np.cumsum(deltas[order])))
        return cls(np.concatenate(([start], times[order])), values, start)

    def time_average(self, until: float) -> float:
        """The mean value from the start up to ``until``."""
        span = until - self.start
        if span <= 0:
            return float(self.values[-1])
        t = np.minimum(np.append(self.times, until), until)
        return float(np.sum(self.values * np.diff(t)) / span)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(times, values) as numpy arrays."""
        return self.times, self.values
