"""States already in changelogs keep loading: a state written by the tuple-per-attempt encoder
(emergency contact, three contact points, dropped ids, episodes, policy days) decodes to the same
attempts and re-encodes to the same bytes."""

from __future__ import annotations

from streams.core.engine import BorrowerState

STORED = (
    b'[1,1795907700000,1795904100000,3,1795874400000,1795863600000,"Asia/Shanghai",'
    b"[-162900000,10800000,10800000,10800000,10800000,10800000,10800000,10800000,10800000,"
    b"10800000,10800000,10800000,10800000,10800000,10800000,10799000,901000],"
    b'"CXrwDYtyCXrwDYtCy",["primary","secondary","emergency_contact"],'
    b"[0,1,2,0,0,1,2,0,0,1,2,0,0,1,2,2,0],"
    b'["","e01","e02","","","e05","e06","e07","e08","e09","e10","e11","e12","e13","e14",'
    b'"late","e15"],{"L1":[12,"missed",1795744800000]},'
    b'{"aa":["e13",0,1795885200000],"uo":["e13",0,1795885200000]},'
    b'[["qh",20785],["qh",20786],["tg",20785],["tg",20786]],[[1795744800000,"r1"]]]'
)


def test_stored_state_decodes_and_reencodes_unchanged() -> None:
    state = BorrowerState.from_bytes(STORED)
    assert state.to_bytes() == STORED
    attempts = state.attempts
    assert [a.contact_point for a in attempts[:4]] == [
        "primary",
        "secondary",
        "emergency_contact",
        "primary",
    ]
    assert [a.own for a in attempts if a.contact_point == "emergency_contact"] == [False] * 5
    assert all(a.tally == 0 for a in attempts if not a.own)
    assert (attempts[1].channel, attempts[1].outcome) == ("sms", "rejected")
    assert attempts[-1].at_ms == state.newest_ms
    assert set(state.episodes) == {"active_avoidance", "unreachable_while_overdue"}
    assert ("quiet_hours", 20785) in state.policy_fired
    assert state.repayment_ids == [(1795744800000, "r1")]
