"""Child processes that cannot outlive us: the broker JVM, workers, the simulator.

Every child gets PR_SET_PDEATHSIG (the kernel sends SIGTERM when our process dies, even by
SIGKILL) and inherits `REACHWATCH_RUN_ID`, so a check can find any process a run left behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

RUN_ID_VARIABLE = "REACHWATCH_RUN_ID"


def current_run_id() -> str:
    """This run's id, created on first use and inherited by every child."""
    run_id = os.environ.get(RUN_ID_VARIABLE)
    if not run_id:
        run_id = uuid.uuid4().hex[:12]
        os.environ[RUN_ID_VARIABLE] = run_id
    return run_id


def _die_with_parent() -> None:
    """Runs in the child between fork and exec; prctl is async-signal safe."""
    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def spawn(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdout: IO[bytes] | int | None = None,
    stderr: IO[bytes] | int | None = subprocess.STDOUT,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child tied to this process and tagged with this run's id."""
    child_env = dict(os.environ if env is None else env)
    child_env[RUN_ID_VARIABLE] = current_run_id()
    return subprocess.Popen(
        list(command),
        env=child_env,
        stdout=stdout,
        stderr=stderr,
        cwd=cwd,
        preexec_fn=_die_with_parent,  # noqa: PLW1509
    )


def stop(process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> int:
    """SIGTERM for a graceful stop, SIGKILL if it does not finish in time; the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout_s)
    return process.returncode


def processes_of_run(run_id: str) -> list[tuple[int, str]]:
    """Live processes (pid, command line) started under `run_id`, read from /proc."""
    needle = f"{RUN_ID_VARIABLE}={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = (entry / "status").read_text()
        except OSError:
            continue
        if "State:\tZ" not in status:
            found.append((int(entry.name), cmdline.strip()))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m streams.local_kafka.child_process --fail-if-any RUN_ID`: the leftover check."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--fail-if-any", metavar="RUN_ID", required=True)
    run_id = parser.parse_args(argv).fail_if_any
    leftovers = processes_of_run(run_id)
    for pid, cmdline in leftovers:
        print(f"leftover process of run {run_id}: pid {pid}: {cmdline[:200]}")
    if not leftovers:
        print(f"no process of run {run_id} is left running")
    return 1 if leftovers else 0


if __name__ == "__main__":
    raise SystemExit(main())
