"""Microservices Under Pressure: lessons, dashboards and the simulator behind them.

The simulation engine is :mod:`course.sim`; the lesson dashboards live in
:mod:`course.dashboards`.
"""

__version__ = "0.1.0"
