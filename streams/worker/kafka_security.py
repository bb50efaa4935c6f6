"""Kafka TLS/SASL settings, built once from `KafkaConfig` for every client reachwatch runs.

The worker talks to Kafka through Faust (aiokafka) and the CLI tools through kafka-python; both
must get the same security settings from the same config keys, so both shapes are built here.
`check_connection` exists because a client whose protocol does not match the broker's listener
does not fail by itself: it retries, or (kafka-python 3.0 over TLS) waits forever. It bounds the
wait and names the settings that were tried, so a mismatch is a readable error, not a hang.
Secrets leave this module only inside client settings; `redact` is the way to log any of them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError, SaslAuthenticationFailed
from aiokafka.protocol.metadata import MetadataRequest
from faust.auth import SASLCredentials, SSLCredentials
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from faust.types.auth import CredentialsT

from streams.core.config import KafkaConfig
from streams.core.config_loader import SSL_KEYS, kafka_security_problems

REDACTED = "***"
_SECRET_WORDS: tuple[str, ...] = ("password", "secret", "token")


class KafkaSecurityError(ValueError):
    """The security settings contradict each other; the message lists every problem by key."""


class BrokerConnectionError(RuntimeError):
    """The broker could not be reached with the configured settings within the timeout."""


def uses_tls(kafka: KafkaConfig) -> bool:
    return kafka.security_protocol in ("SSL", "SASL_SSL")


def uses_sasl(kafka: KafkaConfig) -> bool:
    return kafka.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")


def security_problems(kafka: KafkaConfig) -> list[str]:
    """Every problem, as `kafka.<key>: ...` lines, so one run reports them all: the loader's
    rules (one place for them), then what only the running process can see, unreadable files."""
    problems = [f"{p.key_path}: {p.message}" for p in kafka_security_problems(kafka)]
    if uses_tls(kafka):
        problems += [
            f"kafka.{key}: {path} is not a readable file"
            for key in SSL_KEYS
            if (path := getattr(kafka, key)) and not Path(path).is_file()
        ]
    return problems


def validate_security(kafka: KafkaConfig) -> None:
    problems = security_problems(kafka)
    if problems:
        raise KafkaSecurityError("invalid Kafka security settings:\n  " + "\n  ".join(problems))


def ssl_context(kafka: KafkaConfig) -> ssl.SSLContext | None:
    """A verifying client context (system CAs unless ssl_cafile), with a client cert for mTLS."""
    validate_security(kafka)
    if not uses_tls(kafka):
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=kafka.ssl_cafile)
    if kafka.ssl_certfile:
        context.load_cert_chain(kafka.ssl_certfile, kafka.ssl_keyfile)
    return context


def faust_credentials(kafka: KafkaConfig) -> CredentialsT | None:
    """The value for Faust's `broker_credentials` (None means plaintext)."""
    context = ssl_context(kafka)
    if uses_sasl(kafka):
        return SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password,
            ssl_context=context,
            mechanism=kafka.sasl_mechanism,
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def aiokafka_kwargs(kafka: KafkaConfig) -> dict[str, Any]:
    """aiokafka client settings, derived exactly as Faust derives them from its credentials."""
    return dict(credentials_to_aiokafka_auth(faust_credentials(kafka)))


def kafka_python_kwargs(kafka: KafkaConfig) -> dict[str, Any]:
    """kafka-python client settings (admin, producer, consumer) for the CLI tools."""
    validate_security(kafka)
    kwargs: dict[str, Any] = {"security_protocol": kafka.security_protocol}
    if uses_sasl(kafka):
        kwargs |= {
            "sasl_mechanism": kafka.sasl_mechanism,
            "sasl_plain_username": kafka.sasl_username,
            "sasl_plain_password": kafka.sasl_password,
        }
    if uses_tls(kafka):
        kwargs |= {key: getattr(kafka, key) for key in SSL_KEYS if getattr(kafka, key)}
    return kwargs


def bootstrap_servers(broker: str) -> list[str]:
    """`host:port` list from a Faust broker URL such as `kafka://a:9092;kafka://b:9092`."""
    servers = []
    for part in broker.replace(",", ";").split(";"):
        address = part.strip().removeprefix("kafka://").rstrip("/")
        if address:
            servers.append(address if ":" in address else f"{address}:9092")
    return servers


def redact(settings: KafkaConfig | Mapping[str, Any]) -> dict[str, Any]:
    """A copy safe to log: every value whose key names a password, secret or token is masked."""
    items = dataclasses.asdict(settings) if isinstance(settings, KafkaConfig) else dict(settings)
    return {
        key: REDACTED if value and any(word in key.lower() for word in _SECRET_WORDS) else value
        for key, value in items.items()
    }


def describe(kafka: KafkaConfig) -> str:
    """One line naming where and how we connect, without secrets, for logs and errors."""
    parts = [f"broker {', '.join(bootstrap_servers(kafka.broker))}", kafka.security_protocol]
    if uses_sasl(kafka):
        parts.append(f"SASL {kafka.sasl_mechanism} as {kafka.sasl_username}")
    if uses_tls(kafka):
        parts.append(f"CA {kafka.ssl_cafile or 'system default'}")
    return ", ".join(parts)


# OpenSSL verify codes: the name does not match, or no trusted CA signed the chain.
_NAME_MISMATCH = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_UNTRUSTED = {2, 18, 19, 20, 21}  # issuer unknown, self-signed, unable to get local issuer


def refusal(kafka: KafkaConfig, server: str, error: BaseException) -> str | None:
    """The one sentence naming why `server` refused us, when the error says; else None."""
    if isinstance(error, SaslAuthenticationFailed):
        return (
            f"Kafka at {server} refused the SASL {kafka.sasl_mechanism} login of user "
            f"{kafka.sasl_username}: wrong password or unknown user (kafka.sasl_password)."
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        code = error.verify_code
        if code in _NAME_MISMATCH:
            host = server.rpartition(":")[0]
            return (
                f"Kafka at {server} presented a TLS certificate that is not valid for the "
                f"name {host} (hostname mismatch): connect by a name the certificate lists."
            )
        if code in _UNTRUSTED:
            return (
                f"Kafka at {server} presented a TLS certificate from a CA that "
                f"kafka.ssl_cafile ({kafka.ssl_cafile or 'the system CAs'}) does not trust "
                "(untrusted CA)."
            )
    return None


async def _probe_server(kafka: KafkaConfig, server: str, timeout_ms: int) -> None:
    """Connect, authenticate and fetch metadata from one bootstrap server."""
    host, _, port = server.rpartition(":")
    connection = await create_conn(
        host, int(port), request_timeout_ms=timeout_ms, **aiokafka_kwargs(kafka)
    )
    try:
        await connection.send(MetadataRequest([]))
    finally:
        connection.close()


async def probe_broker(kafka: KafkaConfig, timeout_s: float = 10.0) -> None:
    """Fetch cluster metadata with the worker's own client settings, or fail within timeout_s.

    Each bootstrap server is tried in turn, as the clients do; when one refuses for a reason
    it states (a SASL login, a certificate), the error is that reason in one sentence."""
    validate_security(kafka)
    servers = bootstrap_servers(kafka.broker)
    errors: list[tuple[str, BaseException]] = []

    async def first_answer() -> None:
        for server in servers:
            try:
                await _probe_server(kafka, server, max(1, int(timeout_s * 1000)))
                return
            except (OSError, KafkaError, TimeoutError) as exc:
                errors.append((server, exc))
        raise errors[-1][1]

    try:
        await asyncio.wait_for(first_answer(), timeout_s)
    except (TimeoutError, OSError, KafkaError) as exc:
        for server, error in errors:
            reason = refusal(kafka, server, error)
            if reason:
                raise BrokerConnectionError(reason) from error
        raise BrokerConnectionError(
            f"could not connect to Kafka within {timeout_s:g}s ({describe(kafka)}): "
            f"{type(exc).__name__}: {exc or 'no answer'}. Check that the broker listener at "
            "that address expects the same security_protocol and SASL mechanism, and that "
            "the credentials and CA file are right."
        ) from exc


def check_connection(kafka: KafkaConfig, timeout_s: float = 10.0) -> None:
    """`probe_broker` for synchronous callers (the CLI tools), before they start a client."""
    asyncio.run(probe_broker(kafka, timeout_s))
