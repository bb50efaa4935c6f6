from streams.core.engine import BorrowerState, Disposition, apply
from tests.unit.core.engine.engine_events import DEFAULT, Run, at, call, payment, transitions


def test_five_unanswered_raise_then_contact_resolves() -> None:
    run = Run()
    alerts = run.feed(*(call(f"e{i}", at(i)) for i in range(5)))
    assert transitions(alerts) == [("consecutive_unanswered", "raised", "warning")]
    resolved = run.feed(call("c", at(6), "answered"))
    assert transitions(resolved) == [("consecutive_unanswered", "resolved", "warning")]
    assert resolved[0].episode_key == alerts[0].episode_key == "e4"


def test_duplicate_and_late() -> None:
    first = apply(None, call("e1", at(5)), DEFAULT)
    state = first.state
    assert apply(state, call("e1", at(5)), DEFAULT).disposition is Disposition.DUPLICATE
    assert apply(state, call("old", at(3)), DEFAULT).disposition is Disposition.LATE
    assert apply(state, payment("p", at(5), 3), DEFAULT).disposition is Disposition.APPLIED


def test_state_round_trip() -> None:
    run = Run()
    run.feed(*(call(f"e{i}", at(i)) for i in range(3)))
    assert run.state is not None
    data = run.state.to_bytes()
    assert BorrowerState.from_bytes(data).to_bytes() == data
