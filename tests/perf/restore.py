"""Restore alone: where a fresh worker's time goes before it processes anything.

Run: flock /tmp/reachwatch-kafka.lock .venv/bin/python -m tests.perf.restore
         [--borrowers N] [--rounds K] [--code LABEL=DIR ...] [--py-spy PATH]

Starts its own broker, fills the input topics with one attempt for each of N borrowers, lets a
worker (memory store) take them all, stops it, then K times spawns a fresh worker (new data
dir, same app id) and produces a probe event, as `e2e.load_and_recover` does. Each round is
split by the worker's own log lines: spawn → Faust's first "Starting..." (interpreter,
imports, preflight), → partitions assigned (group join), → "Restoring state" → "Recovery
complete" (Faust's restore span), → "Worker ready", → probe consumed. `--code` runs the worker
from another checkout (e.g. a worktree of main), rounds alternating between the variants, so
two versions are compared under the same load; `--py-spy` records each recovery worker with
py-spy (raw folded stacks, idle included) into bench-results/restore/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

import orjson

from streams.local_kafka.broker import free_port, start_local_kafka
from streams.local_kafka.child_process import spawn, stop
from tests.perf.e2e import probe_for
from tests.perf.worker import CLOCK_TICKS, BenchWorker
from tests.perf.workload import PARTITIONS, Topics, fill, memory_borrower, one_attempt_each
from tests.support.kafka import REPO_ROOT
from tests.support.pipeline import RunningWorker, write_worker_config

WORK_DIR = Path("bench-results/restore").resolve()
POLL_S = 0.1
# (phase name, the log line that ends it); phases start where the previous one ended
MARKERS = (
    ("startup", "[^Worker]: Starting..."),
    ("group_join", "Executing _on_partitions_assigned"),
    ("before_restore", "Restoring state from changelog topics"),
    ("restore", "Recovery complete"),
    ("after_restore", "[^Worker]: Ready"),
)


def stamps(log: Path) -> dict[str, float]:
    """Wall-clock time of the first line carrying each marker."""
    found: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        for name, marker in MARKERS:
            if name not in found and marker in line:
                found[name] = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return found


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def recover(topics: Topics, app_id: str, label: str, code: Path, spy: str | None) -> dict:
    """One fresh worker from `code`: spawn until it has consumed a probe event."""
    name = f"{label}-{time.monotonic_ns()}"
    port = free_port()
    config = write_worker_config(
        WORK_DIR / f"{name}.toml", port, broker=f"kafka://{topics.bootstrap}", app_id=app_id,
        call_topic=topics.call, repayment_topic=topics.repayment, alert_topic=topics.alert,
        dead_letter_topic=topics.dead_letter, partitions=PARTITIONS, store="memory://",
    )  # fmt: skip
    command = [sys.executable, "-m", "streams", "worker", "--config", str(config), "-l", "info",
               "--data-dir", str(WORK_DIR / f"data-{name}")]  # fmt: skip
    if spy:
        command = [spy, "record", "-r", "200", "--idle", "-f", "raw", "-o",
                   str(WORK_DIR / f"{name}.folded"), "--", *command]  # fmt: skip
    log = WORK_DIR / f"{name}.log"
    load_before = os.getloadavg()[0]
    spawned_at = time.time()
    with log.open("wb") as out:
        process = spawn(command, stdout=out, cwd=code)
    worker = RunningWorker(process, port, log)
    fill(topics, [probe_for(memory_borrower(0))])
    try:
        # /metrics costs the worker CPU (Faust's sensors have many series): scraped only once
        # the log says the worker is ready
        while "[^Worker]: Ready" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.time() - spawned_at > 300:
                raise RuntimeError(f"never ready:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(POLL_S)
        while worker.consumed() < 1:
            if process.poll() is not None or time.time() - spawned_at > 300:
                raise RuntimeError(f"no probe consumed:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(POLL_S)
        consumed_at = time.time()
        pid = _worker_pid(process.pid) if spy else process.pid
        cpu = cpu_s(pid)
        tracked = sum(v for (sample, _), v in worker.metrics().items()
                      if sample == "reachwatch_borrowers_tracked")  # fmt: skip
    finally:
        if spy:  # py-spy writes its output once its child has exited
            os.kill(_worker_pid(process.pid), signal.SIGTERM)
            process.wait(60)
        stop(process, 60)
    marks, phases, previous = stamps(log), {}, spawned_at
    for phase, _ in MARKERS:
        if phase in marks:
            phases[phase] = round(marks[phase] - previous, 2)
            previous = marks[phase]
    phases["until_probe_consumed"] = round(consumed_at - previous, 2)
    return {
        "code": label,
        "spawn_to_probe_s": round(consumed_at - spawned_at, 2),
        "phases_s": phases,
        "worker_cpu_s": round(cpu, 2),
        "borrowers_tracked": tracked,
        "load_1m_before_after": [load_before, os.getloadavg()[0]],
    }


def _worker_pid(spy_pid: int) -> int:
    """The Python child of py-spy."""
    children = Path(f"/proc/{spy_pid}/task/{spy_pid}/children").read_text().split()
    return int(children[0])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--borrowers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="recoveries per code variant")
    parser.add_argument("--code", action="append", default=[], metavar="LABEL=DIR",
                        help="a checkout to run the worker from (default: this one)")  # fmt: skip
    parser.add_argument("--py-spy", dest="spy", help="path of py-spy: record each recovery")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    variants = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.code]
    variants = variants or [("this", REPO_ROOT)]
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True)
    began = time.monotonic()
    broker = start_local_kafka()
    print(f"broker up in {time.monotonic() - began:.0f} s", flush=True)
    results: dict = {"borrowers": args.borrowers, "load_1m_at_start": os.getloadavg()[0],
                     "rounds": []}  # fmt: skip
    try:
        topics = Topics.create(broker.bootstrap, "restore")
        fill(topics, one_attempt_each(args.borrowers))
        print(f"filled in {time.monotonic() - began:.0f} s", flush=True)
        loader = BenchWorker(topics, WORK_DIR)
        loader.start("load")
        try:
            loader.drain(args.borrowers)
            time.sleep(2)  # the last changelog batch
        finally:
            loader.stop()
        print(f"loaded in {time.monotonic() - began:.0f} s", flush=True)
        for _ in range(args.rounds):
            for label, code in variants:
                result = recover(topics, loader.app_id, label, code, args.spy)
                results["rounds"].append(result)
                print(orjson.dumps(result).decode(), flush=True)
    finally:
        broker.stop()
        results["load_1m_at_end"] = os.getloadavg()[0]
        (WORK_DIR / "results.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
