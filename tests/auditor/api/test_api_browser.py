"""The HTML report of the HTTP service in a real headless browser (Debian's chromium, installed by `make`).

One audit of examples/EtherBank.sol through a keyed `solsentry serve`; then the report page is rendered twice:
saved to a file (the report URL needs an Authorization header that a browser navigation cannot send) and live,
from a `--insecure-dev` server over the same data directory (no key needed). Each time the rendered DOM must hold
the findings table with one row per finding of the JSON report, and a screenshot must show the page drawn.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
BANK = (ROOT / "examples" / "EtherBank.sol").read_text()
ENV = {"SOLSENTRY_API_RATE_LIMIT_PER_MINUTE": "100000"}
WIDTH, HEIGHT = 1280, 2000
# auditor/report/html.py: the table borders (--line) and the badge of a high-severity finding (--high).
LINE, HIGH = (0xD1, 0xD9, 0xE0), (0xCF, 0x22, 0x2E)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"{CHROMIUM} is missing: `make install` installs Debian's chromium")


@pytest.fixture(scope="module")
def audited(make_module_server, tmp_path_factory):
    """(data dir, audit id, JSON report, HTML report) of EtherBank.sol, audited through a keyed server."""
    data = tmp_path_factory.mktemp("browser") / "api"
    s = make_module_server(data, ENV)
    key = s.key("browser")
    s.start()
    body = json.dumps({"files": {"contracts/EtherBank.sol": BANK}, "options": {"tools": ["slither"], "review": "none"}})
    code, answer, _ = s.call("POST", "/v1/audits", body.encode(), key)
    assert code == 202, answer
    audit_id = json.loads(answer)["id"]
    deadline = time.monotonic() + 300
    while (doc := json.loads(s.call("GET", f"/v1/audits/{audit_id}", key=key)[1]))["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, f"audit {audit_id} did not finish"
        time.sleep(0.3)
    assert doc["status"] == "done", doc
    code, report, _ = s.call("GET", f"/v1/audits/{audit_id}/report", key=key)
    assert code == 200, report
    code, html, _ = s.call("GET", f"/v1/audits/{audit_id}/report?format=html", key=key)
    assert code == 200 and b'<table id="findings">' in html, html[:500]
    # why the file detour: a navigation carries no Authorization header
    assert s.call("GET", f"/v1/audits/{audit_id}/report?format=html")[0] == 401
    s.stop()                  # before the tests: the live one serves this data dir from a server of its own
    report = json.loads(report)
    assert report["findings"] and report["summary"]["high"] >= 1
    return data, audit_id, report, html


def _chromium(tmp: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Headless chromium with a throw-away profile; the whole process group dies on a timeout."""
    profile = tmp / f"profile-{time.monotonic_ns()}"
    cmd = [str(CHROMIUM), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", f"--user-data-dir={profile}", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        raise AssertionError(f"chromium timed out after {timeout} s: {' '.join(cmd)}") from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)   # helpers left behind by the browser
    assert proc.returncode == 0, f"chromium exited {proc.returncode}: {err[-3000:]}"
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _check_dom(tmp: Path, url: str, report: dict) -> None:
    dom = _chromium(tmp, "--dump-dom", url).stdout
    assert "<title>SolSentry audit report" in dom, dom[:2000]
    table = re.search(r'<table id="findings">.*?</table>', dom, re.S)
    assert table, "no findings table in the rendered DOM"
    rows = table.group(0).count('<tr class="finding')
    assert rows == len(report["findings"]) == dom.count('<tr class="finding'), (rows, len(report["findings"]))
    for f in report["findings"]:
        assert f'id="row-{f["id"]}"' in table.group(0), f["id"]


def _near(rgb, colour: tuple[int, int, int], tolerance: int):
    """An "L" mask: 255 where a pixel is within `tolerance` of `colour` on every channel, else 0."""
    from PIL import Image, ImageChops

    r, g, b = ImageChops.difference(rgb, Image.new("RGB", rgb.size, colour)).split()
    return ImageChops.lighter(ImageChops.lighter(r, g), b).point(lambda v: 255 if v <= tolerance else 0)


def _screenshot(tmp: Path, url: str, name: str):
    from PIL import Image

    png = tmp / f"{name}.png"
    _chromium(tmp, f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={png}", url)
    assert png.is_file() and png.stat().st_size > 0, f"no screenshot at {png}"
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size == (WIDTH, HEIGHT), (im.format, im.size)
        return im.convert("RGB")


def _border_rows(rgb) -> int:
    """Pixel rows that are mostly the table border colour (one per table row line: border-collapse)."""
    from PIL import Image

    return sum(_near(rgb, LINE, 8).resize((1, rgb.height), Image.Resampling.BOX).histogram()[128:])


def _check_screenshot(tmp: Path, url: str, html: bytes, report: dict, name: str) -> None:
    """The page at `url` is drawn (not blank), and where the findings table is drawn there are its borders,
    text and badges. The table's region is where the screenshot differs from one of the same page with the
    table hidden (visibility keeps the layout, so nothing else moves)."""
    from PIL import ImageChops

    rgb = _screenshot(tmp, url, name)
    total = WIDTH * HEIGHT
    non_white = (total - _near(rgb, (255, 255, 255), 10).histogram()[255]) / total
    assert non_white > 0.01, f"{name}: the page looks blank ({non_white:.2%} non-white pixels)"
    colours = len(rgb.getcolors(total))
    assert colours > 50, f"{name}: only {colours} colours (no anti-aliased text drawn)"
    hidden = tmp / f"{name}-hidden.html"
    marker = b'<table id="findings">'
    hidden.write_bytes(html.replace(marker, b'<table id="findings" style="visibility: hidden">', 1))
    box = ImageChops.difference(rgb, _screenshot(tmp, hidden.as_uri(), f"{name}-hidden")).getbbox()
    assert box, f"{name}: the findings table is not drawn (hiding it changes no pixel)"
    left, top, right, bottom = box
    assert right - left > WIDTH // 2 and bottom - top > 40, f"{name}: findings table drawn at {box} only"
    table = rgb.crop(box)
    # every row line of the table that fits in the screenshot: above the header, below it, below each finding
    lines = _border_rows(table)
    want = len(report["findings"]) + 2 if bottom < HEIGHT else 3
    assert lines >= want, f"{name}: {lines} border lines in the findings table at {box}, want >= {want}"
    ink = sum(_near(table, (255, 255, 255), 10).histogram()[:255]) / (table.width * table.height)
    assert ink > 0.03, f"{name}: the findings table at {box} is nearly empty ({ink:.2%} non-white)"
    red = _near(table, HIGH, 12).histogram()[255]
    assert red > 100, f"{name}: no high-severity badge in the findings table at {box} ({red} red pixels)"
    print(f"{name}: {non_white:.1%} non-white, {colours} colours; findings table at {box}: {lines} border lines,"
          f" {ink:.1%} non-white, {red} red pixels")


def test_saved_report_renders_in_chromium(audited, tmp_path):
    _, _, report, html = audited
    page = tmp_path / "report.html"
    page.write_bytes(html)
    _check_dom(tmp_path, page.as_uri(), report)
    _check_screenshot(tmp_path, page.as_uri(), html, report, "saved")


def test_live_report_renders_in_chromium_from_an_insecure_dev_server(make_server, audited, tmp_path):
    data, audit_id, report, html = audited
    s = make_server(data, ENV).start("--insecure-dev")
    url = f"{s.url}/v1/audits/{audit_id}/report?format=html"
    code, live, _ = s.call("GET", f"/v1/audits/{audit_id}/report?format=html")   # no key
    assert code == 200 and live == html
    _check_dom(tmp_path, url, report)
    _check_screenshot(tmp_path, url, html, report, "live")
