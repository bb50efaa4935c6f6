"""The built wheel stands on its own: installed into a fresh venv, away from the checkout, it
runs `reachwatch kafka` until the broker answers and ships the schemas it promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from streams.local_kafka.broker import broker_answers, free_port
from streams.local_kafka.child_process import spawn, stop
from tests.support.kafka import REPO_ROOT


def run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_wheel_installs_into_a_fresh_venv_and_runs_the_local_broker(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, REPO_ROOT,
        cwd=tmp_path)  # fmt: skip
    (wheel,) = wheels.glob("reachwatch-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", "-c", REPO_ROOT / "constraints.txt", wheel,
        cwd=tmp_path)  # fmt: skip

    where = run(python, "-c", "import streams; print(streams.__file__)", cwd=tmp_path)
    assert str(venv) in where, "the test must use the installed package, not the checkout"
    shipped = run(python, "-c",
                  "import json; from streams.contracts import SCHEMA_NAMES, schema; "
                  "print(json.dumps({n: schema(n)['title'] for n in SCHEMA_NAMES}))",
                  cwd=tmp_path)  # fmt: skip
    assert json.loads(shipped) == {
        name: name for name in ("call_attempt.v1", "repayment.v1", "alert.v1", "dead_letter.v1")
    }

    port = free_port()
    log = tmp_path / "kafka.out"
    with log.open("wb") as out:
        broker = spawn([str(venv / "bin" / "reachwatch"), "kafka", "--port", str(port)],
                       stdout=out, cwd=tmp_path, env=dict(os.environ))  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while not broker_answers(f"127.0.0.1:{port}") and time.monotonic() < deadline:
            assert broker.poll() is None, log.read_text(errors="replace")
            time.sleep(1)
        assert broker_answers(f"127.0.0.1:{port}"), log.read_text(errors="replace")
        assert "ready at 127.0.0.1:" in log.read_text(errors="replace")
    finally:
        stop(broker)
