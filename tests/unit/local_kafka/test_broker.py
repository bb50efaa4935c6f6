"""The local broker launcher fails with a message that says why, never silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.local_kafka import broker as local_kafka
from streams.local_kafka.broker import LocalKafkaError, ensure_jars, start_local_kafka


def test_missing_maven_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_kafka.shutil, "which", lambda name: None)
    with pytest.raises(LocalKafkaError, match=r"Maven \(mvn\) is not on PATH"):
        ensure_jars(tmp_path)


def test_a_failing_maven_fetch_reports_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_mvn = tmp_path / "mvn"
    fake_mvn.write_text(
        "#!/bin/sh\necho 'Could not resolve org.apache.kafka:kafka_2.13' >&2\nexit 1\n"
    )
    fake_mvn.chmod(0o755)
    monkeypatch.setattr(local_kafka.shutil, "which", lambda name: str(fake_mvn))
    with pytest.raises(LocalKafkaError, match="could not fetch the Apache Kafka jars") as error:
        ensure_jars(tmp_path / "cache")
    assert "Could not resolve org.apache.kafka:kafka_2.13" in str(error.value)


def test_missing_java_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jars = tmp_path / "jars"
    jars.mkdir()
    (jars / "kafka_2.13-4.1.1.jar").write_bytes(b"")
    monkeypatch.setattr(local_kafka.shutil, "which", lambda name: None)
    with pytest.raises(LocalKafkaError, match="java is not on PATH"):
        start_local_kafka(tmp_path / "work", cache_dir=tmp_path)
