"""Lesson dashboards: each function returns a ready-to-display dashboard (controls, plot, summary)."""

from .backoff_jitter import BackoffJitterDashboard, backoff_jitter_dashboard
from .breaker import BreakerDashboard, breaker_dashboard
from .bulkhead import BulkheadDashboard, bulkhead_dashboard
from .burn_rate import BurnRateDashboard, burn_rate_dashboard
from .checkout import CheckoutDashboard, checkout_dashboard
from .cache_stampede import CacheStampedeDashboard, cache_stampede_dashboard
from .chaos_experiment import ChaosExperimentDashboard, chaos_experiment_dashboard
from .delivery import DeliveryDashboard, delivery_dashboard
from .dual_write import DualWriteDashboard, dual_write_dashboard
from .event_log import EventLogDashboard, event_log_dashboard
from .fault_schedules import FaultSchedulesDashboard, fault_schedules_dashboard
from .load_balancing import LoadBalancingDashboard, load_balancing_dashboard
from .lost_updates import LostUpdatesDashboard, lost_updates_dashboard
from .metastable import MetastableDashboard, metastable_dashboard
from .outbox import OutboxDashboard, outbox_dashboard
from .overload import OverloadDashboard, overload_dashboard
from .quorum import QuorumDashboard, quorum_dashboard
from .rate_limit import RateLimitDashboard, rate_limit_dashboard
from .retry_storm import RetryStormDashboard, retry_storm_dashboard
from .saga_outcomes import SagaOutcomesDashboard, saga_outcomes_dashboard
from .saga_timeline import SagaTimelineDashboard, saga_timeline_dashboard
from .slow_dependency import SlowDependencyDashboard, slow_dependency_dashboard
from .stale_reads import StaleReadsDashboard, stale_reads_dashboard
from .tail_at_scale import TailAtScaleDashboard, tail_at_scale_dashboard
from .portfolio import TestPortfolioDashboard, test_portfolio_dashboard
from .traces import TraceDashboard, trace_dashboard
from .two_phase_commit import TwoPhaseCommitDashboard, two_phase_commit_dashboard
from .utilisation import UtilisationDashboard, utilisation_dashboard

#: Every dashboard by short name, in lesson order; the benchmark and the tests iterate over this.
ALL = {
    # 01: B is just... slow
    "slow_dependency": SlowDependencyDashboard,
    "utilisation": UtilisationDashboard,
    # 02: retries
    "retry_storm": RetryStormDashboard,
    "backoff_jitter": BackoffJitterDashboard,
    "metastable": MetastableDashboard,
    # 03: stop the bleeding
    "breaker": BreakerDashboard,
    "bulkhead": BulkheadDashboard,
    "tail_at_scale": TailAtScaleDashboard,
    "overload": OverloadDashboard,
    # 04: data consistency
    "dual_write": DualWriteDashboard,
    "stale_reads": StaleReadsDashboard,
    "lost_updates": LostUpdatesDashboard,
    "two_phase_commit": TwoPhaseCommitDashboard,
    # 05: sagas and messages
    "saga_timeline": SagaTimelineDashboard,
    "saga_outcomes": SagaOutcomesDashboard,
    "delivery": DeliveryDashboard,
    "outbox": OutboxDashboard,
    # 06: testing together
    "test_portfolio": TestPortfolioDashboard,
    # 07: when everything moves
    "chaos_experiment": ChaosExperimentDashboard,
    "fault_schedules": FaultSchedulesDashboard,
    "trace": TraceDashboard,
    "burn_rate": BurnRateDashboard,
    # 08: the follow-up round
    "rate_limit": RateLimitDashboard,
    "cache_stampede": CacheStampedeDashboard,
    "quorum": QuorumDashboard,
    "event_log": EventLogDashboard,
    "load_balancing": LoadBalancingDashboard,
    # 09: mock interview
    "checkout": CheckoutDashboard,
}

__all__ = ["ALL"] + sorted(cls.__name__ for cls in ALL.values()) + [
    "backoff_jitter_dashboard", "breaker_dashboard", "bulkhead_dashboard", "burn_rate_dashboard", "cache_stampede_dashboard",
    "chaos_experiment_dashboard", "checkout_dashboard", "delivery_dashboard", "dual_write_dashboard", "event_log_dashboard", "load_balancing_dashboard", "fault_schedules_dashboard",
    "lost_updates_dashboard", "metastable_dashboard", "outbox_dashboard", "overload_dashboard", "quorum_dashboard", "rate_limit_dashboard",
    "retry_storm_dashboard", "saga_outcomes_dashboard", "saga_timeline_dashboard", "slow_dependency_dashboard",
    "stale_reads_dashboard", "tail_at_scale_dashboard", "test_portfolio_dashboard", "trace_dashboard",
    "two_phase_commit_dashboard", "utilisation_dashboard",
]
