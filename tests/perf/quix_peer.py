"""The peer: `consecutive_unanswered` as a Quix Streams application a user would write instead.

Idiomatic Quix Streams 3.x: JSON deserialiser (orjson inside), one `StreamingDataFrame` per
input topic, a stateful `apply` over the default RocksDB store with changelog topics, alerts
to the alert topic. It implements one rule (reachwatch evaluates seven, validates against the
schema and deduplicates), so it is the figure reachwatch must beat, not an equivalent product.
It runs as its own process, like the worker, and writes its timing to a JSON file.

Run: python -m tests.perf.quix_peer BOOTSTRAP PREFIX EVENTS OUT STATE_DIR
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from quixstreams import Application, State

from streams.local_kafka.child_process import spawn
from tests.perf.workload import Topics
from tests.support.kafka import REPO_ROOT, unique_name

CONTACT = frozenset({"answered", "replied"})
LEVELS = ((10, "critical"), (5, "warning"))


def consecutive_unanswered(event: dict[str, Any], state: State) -> dict[str, Any] | None:
    """The rule on one attempt: raised at 5, escalated at 10, resolved on contact."""
    if event.get("contact_point") == "emergency_contact":
        return None
    count = state.get("count", 0)
    if event["outcome"] in CONTACT:
        state.set("count", 0)
        if count < LEVELS[-1][0]:
            return None
        return {"borrower_id": event["borrower_id"], "state": "resolved", "count": count,
                "event_id": event["event_id"]}  # fmt: skip
    count += 1
    state.set("count", count)
    for at, severity in LEVELS:
        if count == at:
            return {"borrower_id": event["borrower_id"], "severity": severity, "count": count,
                    "state": "raised" if at == LEVELS[-1][0] else "escalated",
                    "event_id": event["event_id"]}  # fmt: skip
    return None


def main(bootstrap: str, prefix: str, events: int, out: Path, state_dir: Path) -> None:
    topics = Topics(prefix, bootstrap)
    app = Application(
        broker_address=bootstrap,
        consumer_group=unique_name("bench-quix"),
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="WARNING",
    )
    seen = {"events": 0, "alerts": 0, "first_at": 0.0, "last_at": 0.0}

    def count(value: Any) -> None:
        if not seen["events"]:
            seen["first_at"] = time.time()
        seen["events"] += 1
        if seen["events"] >= events:
            seen["last_at"] = time.time()
            app.stop()

    alerts = app.topic(topics.alert)
    calls = app.dataframe(app.topic(topics.call))
    calls = calls.update(count).apply(consecutive_unanswered, stateful=True)
    calls.filter(lambda alert: alert is not None).to_topic(alerts)
    app.dataframe(app.topic(topics.repayment)).update(count)
    app.run()
    out.write_bytes(orjson.dumps(seen))


def run(topics: Topics, events: int, work_dir: Path) -> dict:
    """Run the peer over the pre-filled topics; rate from its first to its last event."""
    out = work_dir / "quix-peer.json"
    log = work_dir / "quix-peer.log"
    with log.open("wb") as log_file:
        process = spawn(
            [sys.executable, "-m", "tests.perf.quix_peer", topics.bootstrap, topics.prefix,
             str(events), str(out), str(work_dir / "quix-state")],
            stdout=log_file,
            cwd=REPO_ROOT,
        )  # fmt: skip
        try:
            process.wait(timeout=900)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    if process.returncode != 0 or not out.exists():
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the Quix Streams peer failed ({process.returncode}):\n{tail}")
    seen = orjson.loads(out.read_bytes())
    seconds = seen["last_at"] - seen["first_at"]
    return {
        "events": seen["events"],
        "seconds": round(seconds, 3),
        "events_per_s": round((seen["events"] - 1) / seconds),
    }


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5]))
