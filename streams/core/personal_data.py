"""Personal data in reachwatch's own text: phone numbers and e-mail addresses are masked.

`contact_point` is a producer's label (`primary`, `emergency_contact`, ...), but producers may
put the number or address itself there. What counts as personal data here:

- e-mail-like: `local@domain` with a dot in the domain; shown as its first character,
  `***` and the domain (`jane.doe@example.com` -> `j***@example.com`);
- phone-like: an optional `+` and 7 to 15 digits (E.164's maximum), optionally grouped by
  single spaces, dashes or dots, or with the area code in parentheses; four digits
  before the last ones are hidden and the separators dropped (`+86 138 0013 8000` ->
  `+86138****8000`, `13800138000` -> `138****8000`); numbers under ten digits keep only
  two at the end.

`mask_contact_point` judges a whole value (alert reasons and episode ids use it);
`mask_text` finds such values inside free text (every log line goes through it). Free text is
judged more narrowly, so that dates, times, offsets and identifiers stay readable: a number
counts only when it stands alone (not inside a word, an id like `CN-0042-...` or a decimal),
its groups after the first have at least two digits, and without a `+` it needs at least ten
digits (a national number with its area code); a longer run of such groups is masked whole
but for its last four digits. Masking is idempotent: a masked value is no longer phone- or
e-mail-like. Borrower ids are the producers' pseudonymous keys and are not masked.
"""

from __future__ import annotations

import re

_MIN_DIGITS, _MAX_DIGITS = 7, 15
_HIDDEN = 4
_PHONE = re.compile(r"\+?(?:\d|\(\d+\))(?:[ .\-]?(?:\d|\(\d+\)))*")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
# In free text: not inside a word, an id or a number (letters, digits, `_`, `-`, `.`, `+`,
# `/`, `:` around it), e-mails first.
_EMAIL_IN_TEXT = re.compile(r"(?<![\w.%+\-])" + _EMAIL.pattern + r"(?![\w\-]|\.\w)")
_NUMBER_IN_TEXT = re.compile(r"(?<![\w.+\-/:*])(\+?)(\d+(?:[ \-]\d{2,})*)(?![\w*/:]|[.\-]\d)")
_MIN_DIGITS_BARE = 10


def _mask_digits(plus: bool, digits: str) -> str:
    tail = 4 if len(digits) >= 10 else 2
    head = len(digits) - tail - _HIDDEN
    return f"{'+' if plus else ''}{digits[:head]}{'*' * _HIDDEN}{digits[-tail:]}"


def _mask_email(address: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local[0]}***@{domain}"


def mask_contact_point(value: str) -> str:
    """The value with a phone number or e-mail address masked; any other label unchanged."""
    stripped = value.strip()
    if _EMAIL.fullmatch(stripped):
        return _mask_email(stripped)
    if _PHONE.fullmatch(stripped):
        digits = re.sub(r"\D", "", stripped)
        if _MIN_DIGITS <= len(digits) <= _MAX_DIGITS:
            return _mask_digits(stripped.startswith("+"), digits)
    return value


def _mask_number_match(match: re.Match[str]) -> str:
    plus, digits = match.group(1), re.sub(r"\D", "", match.group(2))
    if len(digits) < (_MIN_DIGITS if plus else _MIN_DIGITS_BARE):
        return match.group()
    if len(digits) > _MAX_DIGITS:  # numbers side by side: hide all but the last four digits
        return f"{plus}{'*' * _HIDDEN}{digits[-4:]}"
    return _mask_digits(bool(plus), digits)


def mask_text(text: str) -> str:
    """`text` with every e-mail-like and phone-like value in it masked."""
    if "@" in text:
        text = _EMAIL_IN_TEXT.sub(lambda m: _mask_email(m.group()), text)
    return _NUMBER_IN_TEXT.sub(_mask_number_match, text)
