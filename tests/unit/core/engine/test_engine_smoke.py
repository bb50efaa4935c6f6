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


def test_a_seventeenth_contact_point_is_refused_and_known_points_go_on() -> None:
    from streams.core.engine.core import MAX_CONTACT_POINTS

    run = Run()
    run.feed(*(call(f"p{n}", at(n), contact_point=f"point-{n}") for n in range(MAX_CONTACT_POINTS)))
    assert run.dispositions == [Disposition.APPLIED] * MAX_CONTACT_POINTS
    run.feed(
        call("new", at(20), contact_point="point-new"), call("old", at(21), contact_point="point-3")
    )
    assert run.dispositions[-2:] == [Disposition.LIMITED, Disposition.APPLIED]
    assert run.state is not None
    assert "point-new" not in run.state.points


def test_a_point_with_an_open_episode_counts_towards_the_limit_after_its_attempts_age_out() -> None:
    from streams.core.engine.core import MAX_CONTACT_POINTS

    run = Run()
    run.feed(call("bad", at(0), "number_invalid", contact_point="old-number"))
    assert run.state is not None
    assert "contact_info_invalid@old-number" in run.state.episodes
    later = at(24 * 30)  # a month on: the attempt has left the buffer, the episode is open
    run.feed(*(call(f"p{n}", later + n, contact_point=f"point-{n}")
               for n in range(MAX_CONTACT_POINTS - 1)))  # fmt: skip
    assert "old-number" not in run.state.points
    run.feed(call("one-more", later + 100, contact_point="point-x"))
    assert run.dispositions[-1] is Disposition.LIMITED
    run.feed(call("again", later + 101, "answered", contact_point="old-number"))
    assert run.dispositions[-1] is Disposition.APPLIED
