"""The can-i-deploy model (course.contracts.matrix) against the Pact Broker's semantics."""

import pytest

from course.contracts.matrix import Decision, Matrix, broker_command, record_deployment_command


@pytest.fixture
def production():
    """orders 1 and payments 1 in production, pact A verified; orders 2 published pact B (it needs more)."""
    m = Matrix()
    m.publish_pact("orders", "1", "payments", "pact A")
    m.record_verification("payments", "1", "orders", "1", True)
    m.record_deployment("orders", "1", "production")
    m.record_deployment("payments", "1", "production")
    m.publish_pact("orders", "2", "payments", "pact B")
    return m


def test_the_versions_in_production_may_be_deployed_again(production):
    assert production.can_i_deploy("orders", "1", "production") == Decision(True, ["orders 1 -> payments 1: verified"])
    assert production.can_i_deploy("payments", "1", "production").ok


def test_a_consumer_whose_new_pact_is_unverified_by_the_provider_in_production_is_blocked(production):
    decision = production.can_i_deploy("orders", "2", "production")
    assert not decision.ok
    assert decision.reasons == ["orders 2 -> payments 1: no verification result (the pact was never verified by this "
                                "provider version)"]
    production.record_verification("payments", "1", "orders", "2", False)
    assert production.can_i_deploy("orders", "2", "production").reasons == [
        "orders 2 -> payments 1: verification FAILED"]


def test_a_provider_not_verified_against_the_consumer_in_production_is_blocked_until_it_is(production):
    # payments 2 was built for orders 2 and verified only pact B; orders 1 (pact A) is still in production
    production.record_verification("payments", "2", "orders", "2", True)
    blocked = production.can_i_deploy("payments", "2", "production")
    assert not blocked.ok
    assert blocked.reasons == ["orders 1 -> payments 2: no verification result (the pact was never verified by this "
                               "provider version)"]
    # the provider's pipeline verifies the pacts of deployed consumers too: unblocked
    production.record_verification("payments", "2", "orders", "1", True)
    assert production.can_i_deploy("payments", "2", "production") == Decision(True, ["orders 1 -> payments 2: verified"])
    # deploy the provider first, then the consumer may follow
    assert not production.can_i_deploy("orders", "2", "production").ok
    production.record_deployment("payments", "2", "production")
    assert production.deployed("payments", "production") == "2"
    assert production.can_i_deploy("orders", "2", "production") == Decision(True, ["orders 2 -> payments 2: verified"])


def test_a_consumer_cannot_go_where_its_provider_is_not(production):
    decision = production.can_i_deploy("orders", "1", "test")
    assert not decision.ok
    assert "no version of payments is deployed in test" in decision.reasons[0]


def test_a_provider_with_no_consumer_in_the_environment_may_go(production):
    assert production.can_i_deploy("payments", "1", "test") == Decision(
        True, ["payments 1 has no integrations with anything in test"])


def test_identical_pacts_share_their_verifications(production):
    production.publish_pact("orders", "3", "payments", "pact A")  # orders 3 changed nothing payments sees
    assert production.verified("payments", "1", "orders", "3") is True
    assert production.can_i_deploy("orders", "3", "production").ok


def test_the_latest_verification_result_counts(production):
    production.record_verification("payments", "1", "orders", "1", False)
    assert production.verified("payments", "1", "orders", "1") is False
    assert not production.can_i_deploy("payments", "1", "production").ok


def test_every_integration_is_checked_in_both_roles():
    m = Matrix()
    m.publish_pact("web", "7", "orders", "web-orders")
    m.publish_pact("orders", "4", "payments", "orders-payments")
    m.record_verification("orders", "4", "web", "7", True)
    m.record_verification("payments", "9", "orders", "4", True)
    for name, version in (("web", "7"), ("payments", "9")):
        m.record_deployment(name, version, "production")
    decision = m.can_i_deploy("orders", "4", "production")
    assert decision.ok
    assert sorted(decision.reasons) == ["orders 4 -> payments 9: verified", "web 7 -> orders 4: verified"]
    m.record_verification("orders", "4", "web", "7", False)
    assert not m.can_i_deploy("orders", "4", "production").ok


def test_the_matrix_rows_list_every_pact_against_every_provider_version(production):
    production.record_verification("payments", "2", "orders", "2", True)
    assert sorted(production.rows()) == [
        ("orders", "1", "payments", "1", True), ("orders", "1", "payments", "2", None),
        ("orders", "2", "payments", "1", None), ("orders", "2", "payments", "2", True)]


def test_record_deployment_replaces_the_previous_version(production):
    production.add_version("payments", "3")
    production.record_deployment("payments", "3", "production")
    assert production.deployed("payments", "production") == "3"
    assert production.deployed("orders", "test") is None


def test_the_decision_prints_like_the_broker():
    assert str(Decision(True, ["a"])) == "Computer says yes \\o/\n  - a"
    assert str(Decision(False, ["b"])).startswith("Computer says no")


def test_broker_commands_are_the_real_cli():
    assert broker_command("orders", "2", "production") == \
        "pact-broker can-i-deploy --pacticipant orders --version 2 --to-environment production"
    assert broker_command("orders", "a b", "production", broker_base_url="http://broker") == \
        "pact-broker can-i-deploy --pacticipant orders --version 'a b' --to-environment production " \
        "--broker-base-url http://broker"
    assert record_deployment_command("payments", "2", "production") == \
        "pact-broker record-deployment --pacticipant payments --version 2 --environment production"


@pytest.mark.parametrize("call, parameter", [
    (lambda m: m.can_i_deploy("billing", "1", "production"), "pacticipant 'billing' is unknown"),
    (lambda m: m.can_i_deploy("orders", "9", "production"), "version '9' of orders is unknown"),
    (lambda m: m.can_i_deploy("orders", "1", "staging"), "to_environment must be one of"),
    (lambda m: m.record_deployment("orders", "1", "staging"), "environment must be one of"),
    (lambda m: m.record_verification("payments", "1", "orders", "9", True), "consumer_version"),
    (lambda m: m.record_verification("payments", "1", "orders", "1", "yes"), "success"),
    (lambda m: m.publish_pact("orders", "5", "orders", "x"), "provider must differ"),
    (lambda m: m.publish_pact("orders", "", "payments", "x"), "version"),
    (lambda m: m.add_version("", "1"), "pacticipant"),
    (lambda m: broker_command("orders", "1", ""), "to_environment"),
])
def test_invalid_arguments_name_the_parameter(production, call, parameter):
    with pytest.raises(ValueError, match=parameter):
        call(production)


def test_environments_are_checked():
    with pytest.raises(ValueError, match="environments"):
        Matrix(environments=())
