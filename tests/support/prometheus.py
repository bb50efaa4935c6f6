"""A real Prometheus server for tests: deploy/prometheus's config and alert rules, on loopback,
with the rules' durations shortened so a test can see them fire.

The binary is the one `deploy/tools/install-validators.sh` unpacks beside promtool (Debian's
`prometheus` package). One minute of the shipped rules is `SECONDS_PER_MINUTE` seconds here:
`for:` clauses, range and subquery windows and ReachwatchNoInput's silence threshold are scaled;
every other part of each expression, label and threshold is the shipped one.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Any

import yaml

from streams.local_kafka.broker import free_port
from streams.local_kafka.child_process import spawn, stop

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
SECONDS_PER_MINUTE = 0.5
INTERVAL = "1s"  # scrape and evaluation
_UNITS_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+)(ms|[smhd])")
_SILENCE = re.compile(r"(time\(\) - .*> )(\d+)")  # ReachwatchNoInput: seconds without input


def scaled_duration(text: str) -> str:
    """A Prometheus duration (`15m`, `6h`, `1m30s`), shortened to whole seconds (at least 1)."""
    seconds = sum(int(n) * _UNITS_S[unit] for n, unit in _DURATION.findall(text))
    assert _DURATION.sub("", text) == "", f"not a duration: {text}"
    return f"{max(1, round(seconds * SECONDS_PER_MINUTE / 60))}s"


def scaled_expr(expr: str) -> str:
    expr = re.sub(r"\[([^\]:]+)(?::([^\]]+))?\]",
                  lambda m: "[" + ":".join(scaled_duration(d) for d in m.groups() if d) + "]",
                  expr)  # fmt: skip
    return _SILENCE.sub(lambda m: f"{m[1]}{round(int(m[2]) * SECONDS_PER_MINUTE / 60)}", expr)


def scaled_rules() -> dict[str, Any]:
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["expr"] = scaled_expr(rule["expr"])
            if "for" in rule:
                rule["for"] = scaled_duration(rule["for"])
    return rules


def scrape_config(targets: list[str], rules_path: Path) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with these targets, these rules and short intervals."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"] = {"scrape_interval": INTERVAL, "evaluation_interval": INTERVAL}
    config["rule_files"] = [str(rules_path)]
    (job,) = config["scrape_configs"]
    job["static_configs"] = [{"targets": targets}]
    return config


@dataclass
class Prometheus:
    process: Popen[bytes]
    port: int
    log: Path

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}{query}"
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.api("query", query=expr)["result"])

    def firing(self) -> set[str]:
        return {a["labels"]["alertname"] for a in self.api("alerts")["alerts"]
                if a["state"] == "firing"}  # fmt: skip

    def wait_until(self, what: str, ready: Any, timeout_s: float = 60.0) -> None:
        """Until `ready()` is true; `what` says what was awaited when it never is."""
        deadline = time.monotonic() + timeout_s
        while not ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = self.log.read_text()[-3000:]
                raise AssertionError(f"{what}: not within {timeout_s}s\n{log}")
            time.sleep(0.5)

    def stop(self) -> None:
        stop(self.process, 30)


def start_prometheus(binary: str, work_dir: Path, targets: list[str]) -> Prometheus:
    work_dir.mkdir(parents=True, exist_ok=True)
    rules_path = work_dir / "alerts.yml"
    rules_path.write_text(yaml.safe_dump(scaled_rules(), sort_keys=False))
    config_path = work_dir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(scrape_config(targets, rules_path), sort_keys=False))
    port = free_port()
    log = work_dir / "prometheus.log"
    process = spawn(
        [binary, f"--config.file={config_path}", f"--storage.tsdb.path={work_dir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log.open("wb"),
    )  # fmt: skip
    prometheus = Prometheus(process, port, log)

    def answers() -> bool:
        try:
            return prometheus.api("status/runtimeinfo") is not None
        except OSError:
            return False

    prometheus.wait_until("Prometheus answering", answers, timeout_s=30)
    return prometheus
