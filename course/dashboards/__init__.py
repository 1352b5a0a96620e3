"""Lesson dashboards: each function returns a ready-to-display dashboard (controls, plot, summary)."""

from .slow_dependency import SlowDependencyDashboard, slow_dependency_dashboard

#: Every dashboard by short name; the benchmark and the tests iterate over this.
ALL = {
    "slow_dependency": SlowDependencyDashboard,
}

__all__ = ["ALL", "SlowDependencyDashboard", "slow_dependency_dashboard"]
