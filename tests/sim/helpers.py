"""Small builders shared by the simulator tests."""

from course.sim import Call


def one_call(sim, client, at=0.0, root=0, deadline=None):
    """Make one call through ``client`` at time ``at``; returns a dict filled with outcome and end time."""
    seen = {}

    def done(outcome):
        assert "outcome" not in seen, "done() was called twice"
        seen["outcome"] = outcome
        seen["end"] = sim.now()

    sim.at(at, client.call, Call(root, deadline), done)
    return seen
