"""Log records are masked at creation: messages, their arguments and tracebacks."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from streams.log_masking import install_log_masking


@pytest.fixture
def masking() -> Iterator[None]:
    before = logging.getLogRecordFactory()
    install_log_masking()
    install_log_masking()  # idempotent: one masking layer, not two
    try:
        yield
    finally:
        logging.setLogRecordFactory(before)


def test_messages_arguments_and_tracebacks_are_masked(
    masking: None, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("reachwatch.test")
    with caplog.at_level(logging.INFO, logger="reachwatch.test"):
        logger.info("attempt on %s for %s", "+8613800138000", "jane.doe@example.com")
        try:
            raise ValueError("bad contact_point 13800138000")
        except ValueError:
            logger.exception("batch failed at offset %d", 1234567)
    first, second = caplog.records
    assert first.getMessage() == "attempt on +86138****8000 for j***@example.com"
    assert second.getMessage() == "batch failed at offset 1234567"
    assert second.exc_text is not None
    assert "bad contact_point 138****8000" in second.exc_text
    assert "13800138000" not in caplog.text
    assert "+8613800138000" not in caplog.text
    assert "jane.doe" not in caplog.text
