"""The report of a tiny reproduction opened in headless Chromium (docs/reliability.md): every
image loads, every link stays inside the output folder, the claims table has one row per claim.

A screenshot of the whole page is written to `out/test-report/index.png` (repository root) for a
person to look at. Chromium and its driver come from `scripts/system-deps.sh`; without them the
test fails, unless `NRC_SKIP_BROWSER=1` asks to skip it."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from nrc.io import atomic_write

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = Path(__file__).resolve().parents[2] / "out" / "test-report" / "index.png"


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium through the system chromedriver (never Selenium Manager), quit after."""
    if os.environ.get("NRC_SKIP_BROWSER") == "1":
        pytest.skip("NRC_SKIP_BROWSER=1")
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not binary.is_file():
            pytest.fail(
                f"{binary} is missing: run `bash scripts/system-deps.sh` as root "
                "(or set NRC_SKIP_BROWSER=1 to skip this test)"
            )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1280,1000")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def _inside(url: str, out: Path) -> Path | None:
    """The file a resolved URL names, if it is a file:// URL to an existing file under `out`."""
    parts = urlsplit(url)
    path = Path(unquote(parts.path)).resolve()
    if parts.scheme != "file" or not path.is_relative_to(out.resolve()) or not path.is_file():
        return None
    return path


def test_the_report_renders_in_a_browser(
    tiny_report: tuple[Path, Path], browser: webdriver.Chrome
) -> None:
    """Images, links and claims as the browser sees them; the page's screenshot (written first,
    so a failure can be looked at too) goes to `out/test-report/index.png`."""
    out, index = tiny_report
    browser.get(index.resolve().as_uri())
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG")
    atomic_write(SCREENSHOT, lambda tmp: tmp.write_bytes(png))

    images = browser.execute_script(
        "return Array.from(document.images, i => [i.getAttribute('src'), i.naturalWidth]);"
    )
    summary = json.loads((out / "summary.json").read_text())
    made = {Path(p).resolve() for a in summary["artifacts"].values() for p in a["paths"]}
    figures = {p for p in made if p.suffix == ".png"}
    assert figures and {(out / src).resolve() for src, _ in images} == figures
    assert [src for src, width in images if not width > 0] == [], "images that did not load"

    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('[href], [src]'), e => e.href || e.src);"
    )
    assert [url for url in links if _inside(url, out) is None] == [], "links leaving the report"
    assert made - {_inside(url, out) for url in links} == set(), "artifacts not linked"

    table = "//h2[.='Claims']/following-sibling::table[1]"
    names = [th.text for th in browser.find_elements(By.XPATH, f"{table}//th")]
    rows = browser.find_elements(By.XPATH, f"{table}//tr[td]")
    cells = [
        dict(zip(names, (td.text for td in row.find_elements(By.TAG_NAME, "td")), strict=True))
        for row in rows
    ]
    claims = pd.read_csv(out / "claims.csv")
    assert [c["id"] for c in cells] == list(claims.id)
    verdicts = {True: "PASS", False: "FAIL"}
    assert [c["verdict"] for c in cells] == [
        verdicts.get(p, "not evaluated") for p in claims.passed
    ]
    shown = [f"{h:.2g}" if pd.notna(h) else "—" for h in claims.headroom]
    assert [c["headroom"] for c in cells] == shown
