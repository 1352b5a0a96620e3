"""Lesson dashboards: each function returns a ready-to-display dashboard (controls, plot, summary)."""

from .slow_dependency import SlowDependencyDashboard, slow_dependency_dashboard

__all__ = ["SlowDependencyDashboard", "slow_dependency_dashboard"]
