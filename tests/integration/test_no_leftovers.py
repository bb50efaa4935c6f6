"""After a test run ends, even a failing one, no Kafka JVM or worker of that run is alive."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

from streams.local_kafka.child_process import RUN_ID_VARIABLE, processes_of_run
from tests.support.kafka import REPO_ROOT


def test_nested_failing_run_leaves_no_process_behind() -> None:
    run_id = f"probe-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP"}
    env[RUN_ID_VARIABLE] = run_id
    nested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/integration/leftover_probe.py"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert nested.returncode == 1, nested.stdout + nested.stderr
    assert "1 failed" in nested.stdout, nested.stdout
    assert "Apache Kafka" in nested.stdout, "the nested run did not start its own broker"
    deadline = time.monotonic() + 20
    while processes_of_run(run_id) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_of_run(run_id) == []
