"""The worked examples of docs/rules.md: scenarios run through the real engine.

`python -m tests.unit.core.engine.rules_examples` rewrites the generated part of docs/rules.md;
test_engine_docs.py fails when the file no longer matches what the engine does.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from streams.core.engine.alert import format_time
from streams.core.events import CallAttempt, Repayment
from tests.unit.core.engine.engine_events import Run, at, call, only, payment

DOC = Path(__file__).resolve().parents[4] / "docs" / "rules.md"
BEGIN = "<!-- BEGIN GENERATED EXAMPLES: python -m tests.unit.core.engine.rules_examples -->"
END = "<!-- END GENERATED EXAMPLES -->"

Event = CallAttempt | Repayment

SCENARIOS: list[tuple[str, str, dict[str, object], list[Event]]] = [
    (
        "consecutive_unanswered",
        "Ten attempts without contact raise at 5, escalate at 10; an answer resolves.",
        {"consecutive_unanswered": None},
        [
            *(
                call(
                    f"ca-{i:02d}",
                    at(i),
                    "no_answer" if i % 3 else "busy",
                    channel="sms" if i % 2 else "voice",
                )
                for i in range(10)
            ),
            call("ca-10", at(11), "answered"),
        ],
    ),
    (
        "low_contact_rate",
        "Six attempts in 72 h without contact; contacts then lift the rate above 10 %.",
        {"low_contact_rate": None},
        [
            *(call(f"ca-{i:02d}", at(10 * i)) for i in range(6)),
            call("ca-06", at(61), "answered"),
        ],
    ),
    (
        "active_avoidance",
        "Three rejections within 48 h; the borrower replies later.",
        {"active_avoidance": None},
        [
            call("ca-01", at(0), "rejected"),
            call("ca-02", at(20), "blocked"),
            call("ca-03", at(40), "rejected"),
            call("ca-04", at(44), "replied", channel="sms"),
        ],
    ),
    (
        "contact_info_invalid",
        "Two invalid outcomes on a number the producer sent as the contact point; an answer there "
        "resolves it. Reason and episode id show the number masked, the evidence as sent.",
        {"contact_info_invalid": None},
        [
            call("ca-01", at(0), "number_suspended", contact_point="+8613800138000"),
            call("ca-02", at(30), "wrong_party", contact_point="+8613800138000"),
            call("ca-03", at(50), "answered", contact_point="+8613800138000"),
        ],
    ),
    (
        "all_channels_failed",
        "Voice, SMS and app push all fail within 7 days (a delivered or read message would have "
        "reached the borrower); an answered call resolves.",
        {"all_channels_failed": None},
        [
            call("ca-01", at(0), "powered_off"),
            call("ca-02", at(24), "undeliverable", channel="sms"),
            call("ca-03", at(48), "undeliverable", channel="app_push"),
            call("ca-04", at(72), "answered"),
        ],
    ),
    (
        "unreachable_while_overdue",
        "Five missed calls while a loan is 12 days past due; a payment clears the arrears.",
        {"consecutive_unanswered": None, "unreachable_while_overdue": None},
        [
            payment("rp-01", at(0), 12),
            *(call(f"ca-{i:02d}", at(i + 1)) for i in range(5)),
            payment("rp-02", at(8), 0, kind="payment"),
        ],
    ),
    (
        "contact_policy",
        "A call at 23:00 local time, an emergency-contact call with the gate closed.",
        {"contact_policy": None},
        [
            call("ca-01", at(13), "no_answer", borrower_tz="Asia/Shanghai"),
            call("ca-02", at(24), "answered", contact_point="emergency_contact"),
        ],
    ),
]


def _event_line(event: Event) -> str:
    if isinstance(event, Repayment):
        return (
            f"| {event.event_id} | {format_time(event.at_ms)} | repayment {event.type} "
            f"{event.loan_id}, days_past_due {event.days_past_due} |"
        )
    return (
        f"| {event.event_id} | {format_time(event.at_ms)} | {event.channel} → {event.outcome} "
        f"on {event.contact_point} |"
    )


def render() -> str:
    parts = [BEGIN, ""]
    for rule, summary, rules, events in SCENARIOS:
        run = Run(only(**rules))
        parts += [f"### `{rule}`", "", summary, "", "| event | time | what |", "|---|---|---|"]
        parts += [_event_line(event) for event in events]
        parts += [
            "",
            "| after | rule | state | severity | episode_key | reason | actions |",
            "|---|---|---|---|---|---|---|",
        ]
        first = None
        for event in events:
            for alert in run.feed(event):
                if first is None and alert.rule == rule:
                    first = alert
                parts.append(
                    f"| {event.event_id} | {alert.rule} | {alert.state} | {alert.severity} "
                    f"| {alert.episode_key} | {alert.reason} "
                    f"| {', '.join(alert.recommended_actions)} |"
                )
        if first is not None:
            record = first.to_record(0)
            del record["emitted_at"]  # wall-clock time, added by the shell
            parts += ["", "The rule's first alert in full:", "", "```json"]
            parts += [orjson.dumps(record, option=orjson.OPT_INDENT_2).decode(), "```"]
        parts.append("")
    parts.append(END)
    return "\n".join(parts)


def updated(document: str) -> str:
    head, _, rest = document.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + render() + tail


if __name__ == "__main__":
    DOC.write_text(updated(DOC.read_text()))
