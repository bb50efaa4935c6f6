"""Masking phone numbers and e-mail addresses: whole contact points and free text (log lines)."""

from __future__ import annotations

import re
import string

from hypothesis import given
from hypothesis import strategies as st

from streams.core.personal_data import mask_contact_point, mask_text


def digits_only(text: str) -> str:
    return re.sub(r"\D", "", text)


@st.composite
def phone_numbers(draw: st.DrawFn, min_digits: int = 7, plus: bool | None = None) -> str:
    """A number of `min_digits`..15 digits, maybe with `+`, maybe in groups of two or more
    joined by a space or a dash."""
    digits = draw(st.text("0123456789", min_size=min_digits, max_size=15))
    cuts = sorted(draw(st.sets(st.integers(2, len(digits) - 2), max_size=3)))
    groups = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    groups = [g for g in groups if g]
    if any(len(g) < 2 for g in groups[1:]):
        groups = [digits]
    separator = draw(st.sampled_from([" ", "-", ""]))
    with_plus = draw(st.booleans()) if plus is None else plus
    return ("+" if with_plus else "") + separator.join(groups)


LOCAL = st.text(string.ascii_lowercase + string.digits + "._+-", min_size=1, max_size=20)
LABEL = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)


@st.composite
def emails(draw: st.DrawFn) -> tuple[str, str, str]:
    """(address, local part, domain)."""
    local = draw(st.sampled_from(string.ascii_lowercase)) + draw(LOCAL)
    domain = ".".join(draw(st.lists(LABEL, min_size=2, max_size=3)))
    return f"{local}@{domain}", local, domain


WORDS = st.text(string.ascii_letters + " ,;()", max_size=30)  # no digits, no `@`


def test_the_documented_examples() -> None:
    assert mask_contact_point("+8613800138000") == "+86138****8000"
    assert mask_contact_point("+86 138 0013 8000") == "+86138****8000"
    assert mask_contact_point("13800138000") == "138****8000"
    assert mask_contact_point("jane.doe@example.com") == "j***@example.com"
    assert (
        mask_text("number_invalid on +8613800138000, conclusive on its own")
        == "number_invalid on +86138****8000, conclusive on its own"
    )


@given(phone_numbers())
def test_a_phone_number_contact_point_loses_four_digits(number: str) -> None:
    masked = mask_contact_point(number)
    digits = digits_only(number)
    assert masked.count("*") == 4
    assert len(digits_only(masked)) == len(digits) - 4
    assert digits not in masked
    assert digits_only(masked).endswith(digits[-4:] if len(digits) >= 10 else digits[-2:])
    assert masked.startswith("+") == number.startswith("+")
    assert mask_contact_point(masked) == masked


@given(emails())
def test_an_email_contact_point_keeps_only_its_first_character_and_domain(
    email: tuple[str, str, str],
) -> None:
    address, local, domain = email
    masked = mask_contact_point(address)
    assert masked == f"{local[0]}***@{domain}"
    assert mask_contact_point(masked) == masked


@given(st.sampled_from(["primary", "secondary", "emergency_contact", "phone-2", "123456"]))
def test_labels_are_not_personal_data(label: str) -> None:
    assert mask_contact_point(label) == label


@given(WORDS, phone_numbers(), WORDS)
def test_a_phone_number_in_text_is_masked(before: str, number: str, after: str) -> None:
    digits = digits_only(number)
    text = f"{before} {number} {after}"
    masked = mask_text(text)
    if number.startswith("+") or len(digits) >= 10:
        assert number not in masked
        assert digits not in digits_only(masked)
        assert masked == f"{before} {mask_contact_point(number)} {after}"
    else:  # a bare run under ten digits is an offset or a count more often than a number
        assert masked == text
    assert mask_text(masked) == masked


@given(WORDS, emails(), WORDS)
def test_an_email_in_text_is_masked(before: str, email: tuple[str, str, str], after: str) -> None:
    address, local, domain = email
    masked = mask_text(f'{before} "{address}" {after}')
    assert masked == f'{before} "{local[0]}***@{domain}" {after}'
    assert mask_text(masked) == masked


@given(WORDS)
def test_text_without_digits_or_addresses_is_unchanged(text: str) -> None:
    assert mask_text(text) == text


@given(st.datetimes(), st.integers(0, 10**9 - 1), st.text("ABCDEFGHIJ0123456789-", max_size=12))
def test_times_offsets_and_ids_stay_readable(when: object, offset: int, ident: str) -> None:
    text = f"[{when}] partition 3 offset {offset} borrower CN-{ident}-7 took 1.2345678 s"
    assert mask_text(text) == text
