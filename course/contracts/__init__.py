"""Consumer-driven contracts for lesson 06: real services, real pact runs, and the can-i-deploy matrix.

- :mod:`course.contracts.orders`: the consumer, ``PaymentsGateway``, the
  orders service's client of payments (standard library only).
- :mod:`course.contracts.payments`: the provider, ``PaymentsProvider``, with
  its variants, provider states and a hand-written test double.
- :mod:`course.contracts.pact_runs`: a pact consumer test, a provider
  verification and a unit test with the double, run programmatically with
  pact-python (imports pact; sets ``PACT_DO_NOT_TRACK=true``).
- :mod:`course.contracts.matrix`: the Pact Broker's compatibility matrix and
  ``can_i_deploy``, modelled in memory.

The submodules are imported on their own, so reading the consumer or the
matrix does not load pact's native library.
"""
