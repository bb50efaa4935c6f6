"""Every log record a reachwatch command makes is masked before any handler sees it.

A log record factory (not a handler filter) covers every logger, Faust's, mode's and aiokafka's
included, whatever handlers mode's worker sets up later: the message is formatted once, masked
(`streams.core.personal_data.mask_text`) and stored without its arguments; a traceback or stack
is formatted and masked too, so exception texts that quote an event are covered.
"""

from __future__ import annotations

import logging
from typing import Any

from streams.core.personal_data import mask_text

_FORMATTER = logging.Formatter()


class _MaskingFactory:
    def __init__(self, base: Any) -> None:
        self.base = base

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.base(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: keep what there is, masked
            message = f"{record.msg} {record.args}"
        record.msg, record.args = mask_text(message), ()
        if record.exc_info:
            record.exc_text = mask_text(_FORMATTER.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return record


def install_log_masking() -> None:
    """Idempotent: a second call keeps the one masking factory."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _MaskingFactory):
        logging.setLogRecordFactory(_MaskingFactory(current))
