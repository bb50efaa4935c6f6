"""Phone numbers and e-mail addresses on a live worker: masked in alert reasons, episode ids and
every line of the worker's log (at debug level, where alerts and dead letters are logged), and
carried as sent in the alert's evidence only."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from tests.support.pipeline import Deployment
from tests.support.scenario import at, call

PHONE, PHONE_MASKED = "+8613800138000", "+86138****8000"
EMAIL, EMAIL_MASKED = "jane.doe@example.com", "j***@example.com"
BARE_PHONE, BARE_PHONE_MASKED = "13900139000", "139****9000"


def test_contact_points_are_masked_in_reasons_and_logs(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    with Deployment(kafka_bootstrap, tmp_path) as deployment:
        check_masking(deployment)


def check_masking(deployment: Deployment) -> None:
    hostile = {"event_id": "h1", "borrower_id": "b-hostile", "attempted_at": at(1, 11),
               "outcome": "no_answer"}  # fmt: skip
    records = [
        call("b-phone", at(1, 10), "voice", "number_invalid", contact_point=PHONE),
        call("b-mail", at(1, 10), "email", "bounced", contact_point=EMAIL),
        call("b-mail", at(1, 12), "email", "bounced", contact_point=EMAIL),
        # Dead letters whose detail quotes the producer's value: a number where a string
        # belongs, an address where a channel belongs.
        ("call_attempt", orjson.dumps(hostile | {"channel": "voice",
                                                 "contact_point": int(BARE_PHONE)})),
        ("call_attempt", orjson.dumps(hostile | {"channel": EMAIL})),
    ]  # fmt: skip
    worker = deployment.start_worker("w1", "--loglevel", "debug")
    deployment.send_in_order(records, worker)

    alerts = {alert["borrower_id"]: alert for alert in deployment.alerts(2)}
    assert alerts["b-phone"]["reason"] == f"number_invalid on {PHONE_MASKED}, conclusive on its own"
    assert alerts["b-phone"]["episode_id"].endswith(f"@{PHONE_MASKED}")
    assert alerts["b-mail"]["reason"].startswith(f"2 invalid outcomes (bounced) on {EMAIL_MASKED}")
    assert alerts["b-phone"]["evidence"]["contact_point"] == PHONE
    assert alerts["b-mail"]["evidence"]["contact_point"] == EMAIL
    details = [letter["detail"] for letter in deployment.dead_letters(2)]
    assert any(BARE_PHONE in detail for detail in details)  # the raw value did reach the worker
    assert any(EMAIL in detail for detail in details)

    # The worker logs each alert and dead letter at debug level; wait for all four lines.
    deadline = time.monotonic() + 30
    log = worker.log.read_text(errors="replace")
    while (log.count("dead letter from") < 2 or log.count(" for b-") < 2) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
        log = worker.log.read_text(errors="replace")
    assert log.count("dead letter from") == 2, log[-4000:]
    assert PHONE_MASKED in log
    assert EMAIL_MASKED in log
    assert BARE_PHONE_MASKED in log
    for raw in (PHONE, PHONE.removeprefix("+"), EMAIL, "jane.doe", BARE_PHONE):
        assert raw not in log, f"{raw} in the worker's log"
