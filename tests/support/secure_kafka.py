"""A local broker that demands authentication: SASL_SSL with SCRAM-SHA-512, and TLS with a
required client certificate, behind Kafka's StandardAuthorizer.

It is the plaintext test broker (`streams.local_kafka.broker`) started with a `BrokerSecurity`:
one KRaft node with two client listeners, `SASL_SSL` and `MTLS`, and an mTLS controller listener.
The broker itself and the `admin` SCRAM user are super users (the admin creates ACLs); every
other principal gets only the ACLs `worker_acls` lists, the set docs/operations.md documents.
Certificates and passwords are made fresh for each run, into the run's temporary folder.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourceType,
)

from streams.core.config import KafkaConfig
from streams.local_kafka.broker import BrokerSecurity, LocalKafka, start_local_kafka
from tests.support.pki import CertificateAuthority, Issued

MECHANISM = "SCRAM-SHA-512"
ADMIN = "admin"
SCRAM_USER = "reachwatch"
CERT_USER = "reachwatch-mtls"  # the client certificate's CN, mapped to the principal
BROKER_NAME = "broker"
BROKER_ALT_NAMES = "IP:127.0.0.1"  # no DNS name: connecting as `localhost` is a name mismatch
SASL_SSL, MTLS = "SASL_SSL", "MTLS"

OPERATIONS_DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
ACL_HEADING = "### ACLs"


def documented_acl_rows(text: str) -> list[tuple[str, str, str, list[str]]]:
    """(resource type, name, pattern type, operations) of each row of the ACL table under
    docs/operations.md's "### ACLs": the tests grant what the docs say, so the two cannot
    drift. The name is a `[kafka]` key, or `app_id-` for everything named after the app id."""
    section = text.split(ACL_HEADING, 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].isupper():
            resource, name, pattern, operations, _ = cells
            rows.append((resource, name.strip("`"), pattern, operations.replace(",", " ").split()))
    return rows


def resource_name(kafka: KafkaConfig, which: str) -> str:
    return f"{kafka.app_id}-" if which == "app_id-" else str(getattr(kafka, which))


def worker_acls(kafka: KafkaConfig, principal: str) -> Iterator[ACL]:
    """The ACLs one deployment (`kafka`'s topics and app id) needs, for `principal`."""
    for resource, which, pattern, operations in documented_acl_rows(OPERATIONS_DOC.read_text()):
        target = ResourcePattern(
            ResourceType[resource],
            resource_name(kafka, which),
            ACLResourcePatternType[pattern],
        )
        for operation in operations:
            yield ACL(principal, "*", ACLOperation[operation], ACLPermissionType.ALLOW, target)


@dataclass(frozen=True)
class SecureKafka:
    """The running broker, its listeners' addresses, and what clients need to talk to it."""

    broker: LocalKafka
    ca: CertificateAuthority
    rogue_ca: CertificateAuthority  # signs nothing the broker trusts
    client: Issued  # CN=reachwatch-mtls, signed by `ca`
    admin_password: str
    password: str  # SCRAM_USER's

    @property
    def sasl_ssl(self) -> str:
        return self.broker.listeners[SASL_SSL]

    @property
    def mtls(self) -> str:
        return self.broker.listeners[MTLS]

    def security(self, listener: str) -> dict[str, Any]:
        """The worker's `[kafka]` security keys for `listener`, as KafkaConfig fields."""
        if listener == SASL_SSL:
            return {
                "broker": f"kafka://{self.sasl_ssl}",
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": MECHANISM,
                "sasl_username": SCRAM_USER,
                "sasl_password": self.password,
                "ssl_cafile": str(self.ca.cert),
            }
        return {
            "broker": f"kafka://{self.mtls}",
            "security_protocol": "SSL",
            "ssl_cafile": str(self.ca.cert),
            "ssl_certfile": str(self.client.cert),
            "ssl_keyfile": str(self.client.key),
        }

    def principal(self, listener: str) -> str:
        return f"User:{SCRAM_USER if listener == SASL_SSL else CERT_USER}"

    def admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(**admin_settings(self.sasl_ssl, self.ca, self.admin_password))

    def grant(self, kafka: KafkaConfig, principal: str) -> None:
        """What an operator does before deploying: the worker's ACLs for this app id."""
        admin = self.admin()
        try:
            result = admin.create_acls(list(worker_acls(kafka, principal)))
        finally:
            admin.close()
        if result["failed"]:
            raise RuntimeError(f"could not create ACLs: {result['failed']}")


def admin_settings(bootstrap: str, ca: CertificateAuthority, password: str) -> dict[str, Any]:
    return {
        "bootstrap_servers": bootstrap,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": MECHANISM,
        "sasl_plain_username": ADMIN,
        "sasl_plain_password": password,
        "ssl_cafile": str(ca.cert),
    }


def broker_security(
    ca: CertificateAuthority, broker: Issued, admin_password: str, password: str
) -> BrokerSecurity:
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    probe = admin_settings("", ca, admin_password)
    del probe["bootstrap_servers"]
    return BrokerSecurity(
        listeners=((SASL_SSL, "SASL_SSL"), (MTLS, "SSL")),
        inter_broker_listener=MTLS,
        controller_protocol="SSL",
        properties={
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{BROKER_NAME};User:{ADMIN}",
            "allow.everyone.if.no.acl.found": "false",
            "sasl.enabled.mechanisms": MECHANISM,
            f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config": scram,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(broker.bundle),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(ca.cert),
            "ssl.client.auth": "required",  # MTLS and the controller listener
            "listener.name.sasl_ssl.ssl.client.auth": "none",  # SCRAM is its authentication
            "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)$/$1/,DEFAULT",
        },
        format_args=tuple(
            arg
            for user, secret in ((ADMIN, admin_password), (SCRAM_USER, password))
            for arg in ("--add-scram", f"{MECHANISM}=[name={user},password={secret}]")
        ),
        probe_listener=SASL_SSL,
        probe_settings=probe,
    )


def start_secure_kafka(folder: Path) -> SecureKafka:
    """Make the certificates in `folder` and fresh passwords, start the broker, wait until it
    answers (its log and data go where every throw-away broker's go)."""
    ca = CertificateAuthority.create(folder / "ca", "reachwatch-test-ca")
    rogue_ca = CertificateAuthority.create(folder / "rogue", "rogue-ca")
    broker_cert = ca.issue(BROKER_NAME, BROKER_ALT_NAMES)
    client = ca.issue(CERT_USER)
    admin_password, password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    security = broker_security(ca, broker_cert, admin_password, password)
    broker = start_local_kafka(heap="512m", security=security)  # its dirs: removed on stop
    return SecureKafka(broker, ca, rogue_ca, client, admin_password, password)
