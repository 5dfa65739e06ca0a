"""The HTML report in a real headless Chromium (Debian's ``chromium``, from scripts/services.sh):
the rendered text, a screenshot, and no request leaving the page (Chromium's own net log)."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest

from pytest_rollout.html import render_html
from test_html_report import INJECTED, _report, make_eval

FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--no-first-run",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--hide-scrollbars",
)


def _chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def page_requests(net_log: Path) -> list[str]:
    """URLs the page asked for: requests in the page's own (file://) network partition.

    Chromium's background requests (component updates, time sync) carry another partition and
    are not the page's doing; the page's own file:// load is no network request at all.
    """
    log = json.loads(net_log.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        e["params"]["url"]
        for e in log["events"]
        if e["type"] == start_job and "file://" in str(e.get("params", {}).get("network_isolation_key", ""))
    ]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    injected = make_eval(nodeid=f"evals/test_x.py::test_x[{INJECTED}]", verdict="PASS")
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render_html(_report(make_eval(), injected)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rendered(chromium: str, page: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """One Chromium run: the DOM after load, and the net log of that load."""
    work = tmp_path_factory.mktemp("chromium")
    proc = _chromium(chromium, work / "profile", f"--log-net-log={work / 'net.json'}", "--dump-dom", page.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, work / "net.json"


def test_chromium_renders_the_report(rendered: tuple[str, Path]) -> None:
    dom, _ = rendered
    assert "Run: FAIL" in dom and "1 eval(s) not passing (FAIL 1)" in dom
    assert "evals/test_refund.py::test_refund" in dom and "FAIL at n=20" in dom
    assert "<svg" in dom and "<polygon" in dom and "threshold 0.8" in dom
    assert "<script" not in dom and "&lt;script&gt;alert" in dom  # the injected markup is text


def test_the_page_makes_no_external_request(
    chromium: str, rendered: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, net_log = rendered
    assert page_requests(net_log) == []
    # The check sees a request when there is one: the same load of a page that fetches an image.
    work = tmp_path_factory.mktemp("control")
    leaky = work / "leaky.html"
    leaky.write_text('<!DOCTYPE html><p>x</p><img src="http://example.invalid/pixel.png">')
    _chromium(chromium, work / "profile", f"--log-net-log={work / 'net.json'}", "--dump-dom", leaky.as_uri())
    assert page_requests(work / "net.json") == ["http://example.invalid/pixel.png"]


def test_chromium_saves_a_screenshot(chromium: str, page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    proc = _chromium(chromium, tmp_path / "profile", "--window-size=1000,1400", f"--screenshot={shot}", page.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1000, 1400) and len(data) > 20_000  # a page, not a blank frame
