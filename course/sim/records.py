"""Column-oriented logs that become numpy arrays when a run is over."""

from __future__ import annotations

import numpy as np


class Log:
    """Rows of a fixed set of columns; :meth:`arrays` turns them into numpy arrays.

    ``Log(root=int, start=float)`` declares the columns and their dtypes.
    :meth:`append` returns the row itself (a list), so a value known only
    later, such as an end time, is filled in with ``row[index] = value``.
    """

    def __init__(self, **columns):
        self.dtypes = columns
        self.names = tuple(columns)
        self.rows: list[list] = []

    def append(self, *values) -> list:
        """Add one row, values in column order; returns the row for later updates."""
        row = [*values]
        self.rows.append(row)
        return row

    def index(self, column: str) -> int:
        """The position of ``column`` in a row."""
        return self.names.index(column)

    def __len__(self):
        return len(self.rows)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every column as a numpy array of its declared dtype."""
        if not self.rows:
            return {name: np.zeros(0, dtype=dtype) for name, dtype in self.dtypes.items()}
        table = np.array(self.rows, dtype=float)
        return {name: table[:, i].astype(self.dtypes[name]) for i, name in enumerate(self.names)}


class StepSeries:
    """A quantity that changes in steps (busy workers, queue length), logged at each change.

    Also keeps the exact time-integral, so time averages need no sampling.
    """

    __slots__ = ("times", "values", "_last_value", "_area", "_area_steps", "start")

    def __init__(self, start: float = 0.0, value: float = 0.0):
        self.times = [start]
        self.values = [value]
        self.start = start
        self._last_value = value
        self._area = 0.0
        self._area_steps = 1  # how many logged steps _area already covers

    def change(self, t: float, value: float) -> None:
        """Record that the quantity became ``value`` at time ``t``."""
        # The hot path only logs; the integral is brought up to date when asked for.
        self._last_value = value
        self.times.append(t)
        self.values.append(value)

    @property
    def _last_time(self) -> float:
        return self.times[-1]

    @property
    def area(self) -> float:
        """The exact integral of the quantity from the start up to its last change."""
        times, values = self.times, self.values
        area = self._area
        for i in range(self._area_steps, len(times)):
            area += values[i - 1] * (times[i] - times[i - 1])
        self._area = area
        self._area_steps = len(times)
        return area

    def time_average(self, until: float) -> float:
        """The mean value from the start of the log up to ``until``."""
        span = until - self.start
        if span <= 0:
            return float(self._last_value)
        return (self.area + self._last_value * (until - self._last_time)) / span

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(times, values) as numpy arrays."""
        return np.asarray(self.times, dtype=float), np.asarray(self.values, dtype=float)
