"""Two-phase commit with a coordinator that can crash.

Phase 1: the coordinator sends *prepare*; each participant takes its locks,
does the work and votes (yes, or no with ``vote_no_probability``). A
participant that votes no aborts on its own and lets go of its locks. One that
votes yes is *prepared*: it has promised to commit if told to, so it must keep
its locks until it hears the decision. Phase 2: once every vote is in, the
coordinator decides (commit only if all voted yes) and tells everyone.

``coordinator_crash`` kills the coordinator at one moment of one run:

* ``"before_prepare"``: nobody has been asked, so nobody holds a lock;
* ``"after_votes"``: every vote is in but no decision was made — the prepared
  participants sit holding their locks until the coordinator recovers;
* ``"mid_decision"``: the decision reached the first ``participants // 2``
  participants; the others wait for the recovery.

The coordinator comes back ``recovery_time`` seconds later and finishes: with
the decision it had made, or, if it had made none, *presumed abort*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import _validate
from ..latency import Constant, Latency

CRASH_POINTS = (None, "before_prepare", "after_votes", "mid_decision")


@dataclass
class ParticipantOutcome:
    """What one participant went through in one transaction (times in simulated seconds, None if never)."""

    index: int
    vote: str | None = None            # "yes", "no", or None if never asked to prepare
    lock_acquired: float | None = None
    lock_released: float | None = None
    prepared_at: float | None = None   # when it voted yes
    told_at: float | None = None       # when the coordinator sent it the decision
    decided_at: float | None = None    # when it heard (or, voting no, made) the decision
    decision: str | None = None        # "commit" or "abort"

    @property
    def lock_held_seconds(self) -> float:
        """How long it held its locks (0 if it never took them; up to now if still holding)."""
        if self.lock_acquired is None or self.lock_released is None:
            return 0.0
        return self.lock_released - self.lock_acquired

    @property
    def uncertain_seconds(self) -> float:
        """From voting yes to hearing the decision: the time it could neither commit nor abort."""
        if self.prepared_at is None or self.decided_at is None:
            return 0.0
        return self.decided_at - self.prepared_at


@dataclass
class TwoPCResult:
    """One transaction's run: the decision, each participant's locks, and the coordinator's outage.

    ``events`` is a list of ``(time, actor, event)`` with actor ``"coordinator"`` or
    ``"p<i>"``, enough to draw the sequence diagram. Read it after ``sim.run()``.
    """

    txn_id: object
    coordinator_crash: str | None
    participants: list[ParticipantOutcome]
    decision: str | None = None
    decided_at: float | None = None
    crashed_at: float | None = None
    recovered_at: float | None = None
    recovery_time: float = 0.0
    events: list = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Every participant has heard (or made) the decision."""
        return all(p.decision is not None for p in self.participants)

    def participant_blocked_seconds(self, p: ParticipantOutcome) -> float:
        """How long ``p`` sat prepared, holding its locks, while the coordinator was down and had
        not sent it the decision (a decision already on its way does not block)."""
        if p.prepared_at is None or self.crashed_at is None or self.recovered_at is None:
            return 0.0
        if p.told_at is not None and p.told_at <= self.crashed_at:
            return 0.0
        end = p.decided_at if p.decided_at is not None else self.recovered_at
        if p.prepared_at <= self.crashed_at and end >= self.recovered_at:
            return self.recovery_time  # the whole outage (exact, without float round-off)
        return max(0.0, min(end, self.recovered_at) - max(p.prepared_at, self.crashed_at))

    @property
    def blocked_seconds(self) -> list[float]:
        """Per participant: seconds spent prepared with locks held while the coordinator was down."""
        return [self.participant_blocked_seconds(p) for p in self.participants]

    @property
    def lock_held_seconds(self) -> list[float]:
        """Per participant: seconds its locks were held."""
        return [p.lock_held_seconds for p in self.participants]


class TwoPhaseCommit:
    """A coordinator and ``participants`` participants, talking over links with ``latency`` per message.

    Message delays come from stream ``f"twopc:{name}:network"`` and votes from
    ``f"twopc:{name}:vote"``. :meth:`run` schedules a transaction and returns its
    :class:`TwoPCResult`, complete once ``sim.run()`` has processed it.
    """

    def __init__(self, sim, participants: int = 3, latency: Latency | None = None, vote_no_probability: float = 0.0,
                 coordinator_crash: str | None = None, recovery_time: float = 30.0, name: str = "2pc"):
        self.participants = _validate.integer_at_least("participants", participants, 1)
        if latency is None:
            latency = Constant(0.01)
        if not isinstance(latency, Latency):
            raise ValueError(f"latency must be a course.sim.latency.Latency (e.g. Constant(0.01)), got {latency!r}")
        self.vote_no_probability = _validate.probability("vote_no_probability", vote_no_probability)
        self.coordinator_crash = _validate.one_of("coordinator_crash", coordinator_crash, CRASH_POINTS)
        self.recovery_time = _validate.non_negative("recovery_time", recovery_time)
        self.sim = sim
        self.name = name
        self.latency = latency
        self._delay = latency.sampler(sim.rng(f"twopc:{name}:network"))
        self._votes = sim.rng(f"twopc:{name}:vote")
        self.results: list[TwoPCResult] = []

    def run(self, txn_id) -> TwoPCResult:
        """Start transaction ``txn_id`` now; returns its result record (filled in as the simulation runs)."""
        result = TwoPCResult(txn_id, self.coordinator_crash,
                             [ParticipantOutcome(i) for i in range(self.participants)],
                             recovery_time=self.recovery_time)
        result._votes_in = []
        self.results.append(result)
        self.sim.schedule(0.0, self._begin, result)
        return result

    # -- coordinator ------------------------------------------------------------------------------

    def _begin(self, r: TwoPCResult) -> None:
        r.events.append((self.sim.now(), "coordinator", "begin"))
        if self.coordinator_crash == "before_prepare":
            self._crash(r, ())
            return
        for p in r.participants:
            self.sim.schedule(self._delay(), self._on_prepare, r, p)

    def _on_vote(self, r: TwoPCResult, p: ParticipantOutcome, vote: str) -> None:
        r.events.append((self.sim.now(), "coordinator", f"vote {vote} from p{p.index}"))
        r._votes_in.append(vote)
        if len(r._votes_in) < len(r.participants):
            return
        if self.coordinator_crash == "after_votes":
            self._crash(r, r.participants)  # no decision logged: presumed abort after recovery
            return
        r.decision = "commit" if all(v == "yes" for v in r._votes_in) else "abort"
        r.decided_at = self.sim.now()
        r.events.append((r.decided_at, "coordinator", f"decide {r.decision}"))
        if self.coordinator_crash == "mid_decision":
            told = len(r.participants) // 2
            self._send_decision(r, r.participants[:told])
            self._crash(r, r.participants[told:])
        else:
            self._send_decision(r, r.participants)

    def _crash(self, r: TwoPCResult, untold) -> None:
        r.crashed_at = now = self.sim.now()
        r.events.append((now, "coordinator", "crash"))
        self.sim.schedule(self.recovery_time, self._recover, r, list(untold))

    def _recover(self, r: TwoPCResult, untold) -> None:
        r.recovered_at = now = self.sim.now()
        r.events.append((now, "coordinator", "recover"))
        if r.decision is None:
            r.decision = "abort"  # presumed abort: nothing was logged
            r.decided_at = now
            r.events.append((now, "coordinator", "decide abort (presumed)"))
            untold = r.participants
        self._send_decision(r, untold)

    def _send_decision(self, r: TwoPCResult, participants) -> None:
        now = self.sim.now()
        for p in participants:
            p.told_at = now
            self.sim.schedule(self._delay(), self._on_decision, r, p, r.decision)

    # -- participants -----------------------------------------------------------------------------

    def _on_prepare(self, r: TwoPCResult, p: ParticipantOutcome) -> None:
        now = self.sim.now()
        p.lock_acquired = now
        actor = f"p{p.index}"
        r.events.append((now, actor, "lock"))
        if self.vote_no_probability > 0 and self._votes.random() < self.vote_no_probability:
            p.vote, p.decision, p.decided_at, p.lock_released = "no", "abort", now, now
            r.events.append((now, actor, "vote no, abort, unlock"))
        else:
            p.vote, p.prepared_at = "yes", now
            r.events.append((now, actor, "vote yes (prepared)"))
        self.sim.schedule(self._delay(), self._on_vote, r, p, p.vote)

    def _on_decision(self, r: TwoPCResult, p: ParticipantOutcome, decision: str) -> None:
        if p.decision is not None:
            return  # it voted no and aborted on its own
        now = self.sim.now()
        p.decision, p.decided_at = decision, now
        event = decision
        if p.lock_acquired is not None:
            p.lock_released = now
            event += ", unlock"
        r.events.append((now, f"p{p.index}", event))
