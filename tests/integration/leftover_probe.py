"""Run only by test_no_leftovers.py in a nested pytest: starts a broker and a worker, then fails.

The failure is deliberate: cleanup must hold on the failure path too.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.kafka import start_worker, unique_name


def test_leaves_a_worker_running_and_fails(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = dict(os.environ, SMOKE_APP_ID=unique_name("probe"), SMOKE_BROKER=kafka_bootstrap,
               SMOKE_IN=unique_name("probe-in"), SMOKE_OUT=unique_name("probe-out"))  # fmt: skip
    worker = start_worker(
        ["-m", "faust", "-A", "tests.integration.smoke_app", "--datadir", str(tmp_path),
         "worker", "-l", "warn", "--without-web"],
        tmp_path / "worker.log",
        env,
    )  # fmt: skip
    assert worker.poll() is not None, "deliberate failure with the worker still running"
