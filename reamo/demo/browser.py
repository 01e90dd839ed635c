"""Drive the demo page in a real headless Chromium (Playwright pointed at the system browser): fill the text,
upload an image, set the labels, click Run, wait for the result table and take a screenshot. Used by the
browser test and to make the README's screenshot from a running `reamo demo`:

    python -m reamo.demo.browser --url http://127.0.0.1:7860/ --image IMG --text "..." --labels "a, b" \\
        --wait-for NAME --screenshot docs/demo.png
"""
from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageResult:
    status: str  # the status line's text
    table: str  # the result table's visible text
    overlay_shown: bool  # an image came back in the masks-and-boxes panel


def run_page(url: str, text: str, labels: str, image: str | None = None, wait_for: str | None = None,
             screenshot: str | None = None, timeout_s: float = 120.0, width: int = 1400) -> PageResult:
    """One request through the page, as a person would make it. `wait_for`: a text expected in the table
    (default: wait for the status line to change)."""
    from playwright.sync_api import expect, sync_playwright

    exe = chromium_path()
    if exe is None:
        raise RuntimeError("no chromium on PATH (Debian: apt-get install chromium; scripts/install.sh does it)")
    ms = int(timeout_s * 1000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 1000})
            page.goto(url, wait_until="networkidle", timeout=ms)
            page.fill("#reamo-text textarea", text)
            if image:
                page.locator("#reamo-image input[type=file]").set_input_files(image)
                page.wait_for_timeout(500)
            page.fill("#reamo-labels textarea", labels)
            page.click("#reamo-run")
            status = page.locator("#reamo-status")
            expect(status).to_contain_text("extracted", timeout=ms) if wait_for is None else \
                expect(page.locator("#reamo-table")).to_contain_text(wait_for, timeout=ms)
            overlay = False
            if image:
                page.locator("#reamo-image-out img").wait_for(timeout=ms)
                overlay = True
            result = PageResult(status.inner_text(), page.locator("#reamo-table").inner_text(), overlay)
            if screenshot:
                page.screenshot(path=screenshot, full_page=True)
            return result
        finally:
            browser.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:7860/")
    ap.add_argument("--text", default="")
    ap.add_argument("--image")
    ap.add_argument("--labels", required=True)
    ap.add_argument("--wait-for")
    ap.add_argument("--screenshot")
    a = ap.parse_args(argv)
    r = run_page(a.url, a.text, a.labels, a.image, a.wait_for, a.screenshot)
    print(r.status)
    print(r.table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
