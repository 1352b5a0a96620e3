"""Lesson dashboards: each function returns a ready-to-display dashboard (controls, plot, summary)."""

from .backoff_jitter import BackoffJitterDashboard, backoff_jitter_dashboard
from .breaker import BreakerDashboard, breaker_dashboard
from .bulkhead import BulkheadDashboard, bulkhead_dashboard
from .metastable import MetastableDashboard, metastable_dashboard
from .overload import OverloadDashboard, overload_dashboard
from .retry_storm import RetryStormDashboard, retry_storm_dashboard
from .slow_dependency import SlowDependencyDashboard, slow_dependency_dashboard
from .tail_at_scale import TailAtScaleDashboard, tail_at_scale_dashboard
from .utilisation import UtilisationDashboard, utilisation_dashboard

#: Every dashboard by short name; the benchmark and the tests iterate over this.
ALL = {
    "slow_dependency": SlowDependencyDashboard,
    "utilisation": UtilisationDashboard,
    "retry_storm": RetryStormDashboard,
    "backoff_jitter": BackoffJitterDashboard,
    "metastable": MetastableDashboard,
    "breaker": BreakerDashboard,
    "bulkhead": BulkheadDashboard,
    "tail_at_scale": TailAtScaleDashboard,
    "overload": OverloadDashboard,
}

__all__ = ["ALL", "SlowDependencyDashboard", "UtilisationDashboard", "slow_dependency_dashboard",
           "utilisation_dashboard"]
__all__ += ["BackoffJitterDashboard", "MetastableDashboard", "RetryStormDashboard", "backoff_jitter_dashboard",
            "metastable_dashboard", "retry_storm_dashboard"]
__all__ += ["BreakerDashboard", "BulkheadDashboard", "OverloadDashboard", "TailAtScaleDashboard", "breaker_dashboard",
            "bulkhead_dashboard", "overload_dashboard", "tail_at_scale_dashboard"]
