"""`reachwatch backtest --report`: one self-contained HTML page, checked as text and as rendered
by a real headless Chromium (Debian's `chromium`, installed by deploy/tools/install-validators.sh,
which `make test` runs): the screenshot must not be blank and the key numbers must be on the page.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from PIL import Image

from streams.cli import main
from streams.tools.backtest import percent
from streams.tools.backtest_html import mask

# One borrower whose id and contact points are personal data and markup at once.
HOSTILE_ID = "+8613812348000<script>alert(1)</script>"
HOSTILE_POINT = "jane.doe@example.com"


def test_mask_hides_phone_numbers_and_email_addresses() -> None:
    assert mask("call +8613812348000 now") == "call +86138****8000 now"
    assert mask("13812348000") == "13812****8000"
    assert mask("write to jane.doe@example.com.") == "write to j***@example.com."
    # what alert text is made of stays readable: ids, times, counts
    kept = "b0001234 at 2026-11-27T02:00:00Z: 12 attempts (threshold 10)"
    assert mask(kept) == kept


@pytest.fixture(scope="module")
def backtest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small simulated population plus the hostile borrower, backtested with the shipped
    rules against a stricter config; returns the paths and the JSON document."""
    tmp = tmp_path_factory.mktemp("report")
    events, labels = tmp / "events.jsonl", tmp / "labels.jsonl"
    runner = CliRunner()
    simulated = runner.invoke(
        main,
        ["simulate", "--borrowers", "150", "--days", "12", "--seed", "5",
         "--out", str(events), "--labels", str(labels)],
    )  # fmt: skip
    assert simulated.exit_code == 0, simulated.output
    hostile = [
        {"kind": "call_attempt", "event": {
            "event_id": f"h-{n}", "borrower_id": HOSTILE_ID,
            "attempted_at": f"2026-11-03T{10 + n:02d}:00:00+08:00", "channel": "voice",
            "outcome": "number_invalid", "contact_point": HOSTILE_POINT}}
        for n in range(6)
    ]  # fmt: skip
    with events.open("ab") as out:
        out.write(b"".join(orjson.dumps(h) + b"\n" for h in hostile))
    stricter = tmp / "stricter.toml"
    stricter.write_text(
        "[rules.consecutive_unanswered]\n"
        'levels = [{ at = 8, severity = "warning" }]\n'
        "[rules.low_contact_rate]\nenabled = false\n"
        "[rules.contact_info_invalid]\nenabled = false\n"  # the hostile borrower: a disagreement
    )
    html_path, json_path = tmp / "report.html", tmp / "report.json"
    result = runner.invoke(
        main,
        ["backtest", str(events), "--config", "deploy/rules.toml", "--config", str(stricter),
         "--labels", str(labels), "--report", str(html_path), "--json", str(json_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return {"html": html_path, "doc": orjson.loads(json_path.read_bytes()), "tmp": tmp}


def key_numbers(doc: dict[str, Any]) -> list[str]:
    """Precision and recall of each config, as the page writes them."""
    return [
        percent(c["scores"]["overall"][key])
        for c in doc["configs"]
        for key in ("precision", "recall")
    ]


def test_page_is_self_contained_escaped_and_masked(backtest: dict[str, Any]) -> None:
    page = backtest["html"].read_text(encoding="utf-8")
    assert page.count("<svg") == 3  # detection rates, time to detect, alerts per day
    assert not re.search(r"<script|<link|<img|<iframe|\bsrc=|url\((?!#)|@import", page, re.I)
    assert not re.search(r"https?://(?!www\.w3\.org/)", page)  # SVG namespaces only
    assert "8613812348000" not in page
    assert "jane.doe" not in page
    assert "+86138****8000&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "j***@example.com" in page  # the contact point, in its contact_info_invalid alert
    for heading in (
        "Precision and recall",
        "Time to detect per simulated profile",
        "Alerts per day by rule",
        "Borrowers on which the configs disagree",
    ):
        assert heading in page


class _Text(HTMLParser):
    """The visible text of a DOM dump: everything outside <style>, whitespace collapsed."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag == "style"

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def chromium() -> list[str]:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is not installed: run `bash deploy/tools/install-validators.sh`")
    return [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]


def run_chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*chromium(), f"--user-data-dir={profile}", *args],
        capture_output=True,
        timeout=180,
        check=True,
    )


def test_chromium_renders_the_charts_and_the_key_numbers(backtest: dict[str, Any]) -> None:
    url = backtest["html"].resolve().as_uri()
    tmp: Path = backtest["tmp"]
    shot = tmp / "report.png"
    run_chromium(["--window-size=1400,2200", f"--screenshot={shot}", url], tmp / "profile")
    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        assert rgb.size == (1400, 2200)
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 200  # text, tables and chart colours, antialiased
        white = sum(n for n, c in colours if c == (255, 255, 255))
        assert white < 0.9 * rgb.size[0] * rgb.size[1]
        # the charts' bar colours are painted, not only text
        painted = {c for _, c in colours}
        assert {(31, 119, 180), (214, 39, 40)} <= painted

    dom = run_chromium(["--dump-dom", url], tmp / "profile").stdout.decode()
    assert dom.count("<svg") == 3
    parser = _Text()
    parser.feed(dom)
    text = parser.text()
    numbers = key_numbers(backtest["doc"])
    assert all(n != "-" for n in numbers)
    for number in numbers:
        assert number in text
    assert f"precision {numbers[0]} {numbers[2]}" in text
    assert f"recall {numbers[1]} {numbers[3]}" in text
    assert "Borrowers on which the configs disagree" in text
