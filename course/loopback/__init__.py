"""Real services on loopback: small HTTP servers for lessons and tests, and a fault-injecting stub.

:func:`serve` runs an app (a function from :class:`Request` to
:class:`Response`) as a real HTTP server on ``127.0.0.1`` and a free port;
:class:`FaultServer` is a stub whose answers delay, fail, reset or hang, by a
script or by seeded chance (:mod:`course.loopback.faults`). Both are context
managers that leave no thread or open port behind.
"""

from .faults import Delay, Fail, FaultPlan, FaultServer, Hang, LogEntry, Ok, Reset
from .server import Headers, Request, Response, RunningServer, serve

__all__ = ["Delay", "Fail", "FaultPlan", "FaultServer", "Hang", "Headers", "LogEntry", "Ok", "Request", "Response",
           "Reset", "RunningServer", "serve"]
