"""`reachwatch demo` end to end on the session broker: alerts appear, Ctrl-C leaves nothing.

The demo gets `--bootstrap` (one broker per test run) and its own topics and consumer group
through `REACHWATCH_KAFKA__*` overrides; starting its own broker is `start_local_kafka`, which
the session fixture exercises already.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from streams.local_kafka.child_process import RUN_ID_VARIABLE, processes_of_run
from tests.support.kafka import unique_name

ALERT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ  (INFO|WARNING|CRITICAL) +[a-z_]+ ")
STARTUP_TIMEOUT_S = 180.0  # broker-side topic creation and the worker's first assignment
FIRST_ALERT_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 120.0


def demo_env(prefix: str, run_id: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REACHWATCH_CONFIG"}
    return env | {
        RUN_ID_VARIABLE: run_id,
        "REACHWATCH_KAFKA__APP_ID": prefix,
        "REACHWATCH_KAFKA__CALL_TOPIC": f"{prefix}.call-attempts",
        "REACHWATCH_KAFKA__REPAYMENT_TOPIC": f"{prefix}.repayments",
        "REACHWATCH_KAFKA__ALERT_TOPIC": f"{prefix}.alerts",
        "REACHWATCH_KAFKA__DEAD_LETTER_TOPIC": f"{prefix}.dead-letters",
    }


class Lines:
    """The demo's output, read by a thread so that waiting for a line can time out."""

    def __init__(self, stdout: TextIO) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stdout,), daemon=True).start()

    def _read(self, stdout: TextIO) -> None:
        for line in stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: re.Pattern[str], timeout_s: float) -> str | None:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                return None
            self.seen.append(line)
            if pattern.match(line):
                return line
        return None


def test_demo_shows_alerts_and_ctrl_c_stops_everything(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    run_id = unique_name("demo-run")
    demo = subprocess.Popen(
        [sys.executable, "-m", "streams", "demo", "--bootstrap", kafka_bootstrap,
         "--rate", "100", "--borrowers", "300"],
        cwd=tmp_path,
        env=demo_env(unique_name("demo"), run_id),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    assert demo.stdout is not None
    lines = Lines(demo.stdout)
    try:
        banner = lines.wait_for(re.compile("Ctrl-C to stop$"), STARTUP_TIMEOUT_S)
        alert = banner and lines.wait_for(ALERT_LINE, FIRST_ALERT_TIMEOUT_S)
        demo.send_signal(signal.SIGINT)
        demo.wait(STOP_TIMEOUT_S)
        lines.wait_for(re.compile("^stopped; "), STOP_TIMEOUT_S)
    finally:
        demo.kill()
    worker_log = tmp_path / ".demo" / "worker.log"
    log = worker_log.read_text(errors="replace")[-3000:] if worker_log.exists() else "(no log)"
    output = "\n".join(lines.seen)
    assert banner, f"no banner:\n{output}\n{log}"
    assert re.search(r"metrics +http://127\.0\.0\.1:\d+/metrics$", output, re.MULTILINE), output
    assert alert, f"no alert within {FIRST_ALERT_TIMEOUT_S:.0f}s:\n{output}\n{log}"
    assert demo.returncode == 0, output
    assert processes_of_run(run_id) == []
