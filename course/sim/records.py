"""Column-oriented logs that become numpy arrays when a run is over."""

from __future__ import annotations

import numpy as np


class Log:
    """Rows appended column by column; :meth:`arrays` turns them into numpy arrays.

    ``Log(root=int, start=float)`` declares the columns and their dtypes.
    """

    def __init__(self, **columns):
        self.dtypes = columns
        self.columns = {name: [] for name in columns}

    def append(self, *values) -> int:
        """Add one row, values in column order; returns the row's index."""
        for column, value in zip(self.columns.values(), values):
            column.append(value)
        return len(next(iter(self.columns.values()))) - 1

    def set(self, column: str, row: int, value) -> None:
        """Overwrite one cell, for values known only later (an end time, an outcome)."""
        self.columns[column][row] = value

    def __len__(self):
        return len(next(iter(self.columns.values())))

    def arrays(self) -> dict[str, np.ndarray]:
        """Every column as a numpy array of its declared dtype."""
        return {name: np.asarray(values, dtype=self.dtypes[name]) for name, values in self.columns.items()}


class StepSeries:
    """A quantity that changes in steps (busy workers, queue length), logged at each change.

    Also keeps the exact time-integral, so time averages need no sampling.
    """

    __slots__ = ("times", "values", "_last_time", "_last_value", "area", "start")

    def __init__(self, start: float = 0.0, value: float = 0.0):
        self.times = [start]
        self.values = [value]
        self.start = start
        self._last_time = start
        self._last_value = value
        self.area = 0.0

    def change(self, t: float, value: float) -> None:
        """Record that the quantity became ``value`` at time ``t``."""
        self.area += self._last_value * (t - self._last_time)
        self._last_time = t
        self._last_value = value
        self.times.append(t)
        self.values.append(value)

    def time_average(self, until: float) -> float:
        """The mean value from the start of the log up to ``until``."""
        span = until - self.start
        if span <= 0:
            return float(self._last_value)
        return (self.area + self._last_value * (until - self._last_time)) / span

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(times, values) as numpy arrays."""
        return np.asarray(self.times, dtype=float), np.asarray(self.values, dtype=float)
