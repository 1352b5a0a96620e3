"""The testing assignment's parts graded by wheat and chaff.

* Part A, ``pact_contract``: the pact the learner's consumer tests
  (answer cell ``pact_tests``, written as ``test_orders_pact.py``) write for
  the orders service is verified against every payments provider in
  :mod:`.providers.catalog`.
* Part B, ``client_fault_tests``: the learner's tests of the payments client
  (answer cell ``client_tests``, ``test_payments_client.py``) run against
  every client in :mod:`.clients.catalog`, each loaded as
  ``course.contracts.payments_client``.

To add a chaff: write the module beside the others (a copy of a wheat with
exactly one plausible bug), add a line to the catalog with the bug class
feedback may show, and check that the reference suite in ``reference/``
catches it and that it passes every visible test (tests/grading/test_testing_*.py
do both).
"""

from __future__ import annotations

from ...wheat_chaff import Implementation, PactPart, SuitePart
from .clients import catalog as clients
from .providers import catalog as providers


def _implementations(catalog) -> tuple[Implementation, ...]:
    return tuple(Implementation(path, wheat, description) for path, wheat, description in catalog.implementations())


PARTS = (
    PactPart(grade_id="pact_contract", tests_cell="pact_tests", test_file="test_orders_pact.py",
             consumer=providers.CONSUMER, provider=providers.PROVIDER, implementations=_implementations(providers)),
    SuitePart(grade_id="client_fault_tests", tests_cell="client_tests", test_file="test_payments_client.py",
              module=clients.MODULE, implementations=_implementations(clients)),
)
