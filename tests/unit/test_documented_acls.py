"""The ACL table in docs/operations.md is what the secured test broker grants the worker's
user (tests/integration/test_secure_kafka.py); here, without a broker, that it stays narrow."""

from __future__ import annotations

from kafka.admin import ACLOperation, ACLResourcePatternType, ResourceType

from streams.core.config import KafkaConfig
from tests.support.secure_kafka import worker_acls

APP = KafkaConfig(app_id="rw", call_topic="in.calls", alert_topic="out.alerts")


def test_every_documented_acl_names_one_deployment_s_resources() -> None:
    acls = list(worker_acls(APP, "User:rw"))
    names = {
        (acl.resource_pattern.resource_type, acl.resource_pattern.resource_name) for acl in acls
    }
    assert (ResourceType.TOPIC, "in.calls") in names
    assert (ResourceType.TOPIC, "out.alerts") in names
    assert (ResourceType.GROUP, "rw") in names
    assert (ResourceType.TRANSACTIONAL_ID, "rw-") in names
    assert {acl.principal for acl in acls} == {"User:rw"}


def test_no_cluster_wide_or_catch_all_grant() -> None:
    for acl in worker_acls(APP, "User:rw"):
        pattern = acl.resource_pattern
        assert pattern.resource_type is not ResourceType.CLUSTER
        assert acl.operation not in (ACLOperation.ALL, ACLOperation.ALTER, ACLOperation.DELETE)
        assert pattern.resource_name not in ("*", "")
        if pattern.pattern_type is ACLResourcePatternType.PREFIXED:
            assert pattern.resource_name == "rw-"
