"""Lesson dashboards: each function returns a ready-to-display dashboard (controls, plot, summary)."""

from .slow_dependency import SlowDependencyDashboard, slow_dependency_dashboard
from .utilisation import UtilisationDashboard, utilisation_dashboard

#: Every dashboard by short name; the benchmark and the tests iterate over this.
ALL = {
    "slow_dependency": SlowDependencyDashboard,
    "utilisation": UtilisationDashboard,
}

__all__ = ["ALL", "SlowDependencyDashboard", "UtilisationDashboard", "slow_dependency_dashboard",
           "utilisation_dashboard"]
