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

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError
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


async def probe_broker(kafka: KafkaConfig, timeout_s: float = 10.0) -> None:
    """Fetch cluster metadata with the worker's own client settings, or fail within timeout_s."""
    validate_security(kafka)
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers(kafka.broker),
        request_timeout_ms=max(1, int(timeout_s * 1000)),
        **aiokafka_kwargs(kafka),
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
    except (TimeoutError, OSError, KafkaError) as exc:
        raise BrokerConnectionError(
            f"could not connect to Kafka within {timeout_s:g}s ({describe(kafka)}): "
            f"{type(exc).__name__}: {exc or 'no answer'}. Check that the broker listener at "
            "that address expects the same security_protocol and SASL mechanism, and that "
            "the credentials and CA file are right."
        ) from exc
    finally:
        await client.close()


def check_connection(kafka: KafkaConfig, timeout_s: float = 10.0) -> None:
    """`probe_broker` for synchronous callers (the CLI tools), before they start a client."""
    asyncio.run(probe_broker(kafka, timeout_s))
