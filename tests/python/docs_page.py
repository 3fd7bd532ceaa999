"""The API reference page in a real browser (headless Chromium through chromedriver): /docs renders
every documented operation from /v1/openapi.json, loads nothing from another host, and / leads there.

usage: docs_page.py --api http://127.0.0.1:PORT --operations N --screenshot FILE
"""

import argparse
import json
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--operations", type=int, required=True)
    ap.add_argument("--screenshot")
    a = ap.parse_args()
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tempfile.mkdtemp()}", "--window-size=1280,2000"]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    problems = []
    try:
        driver.get(a.api + "/")
        deadline = time.time() + 30
        blocks = []
        while time.time() < deadline:
            blocks = driver.find_elements(By.CSS_SELECTOR, ".opblock")
            if len(blocks) >= a.operations:
                break
            time.sleep(0.2)
        if not driver.current_url.endswith("/docs"):
            problems.append(f"/ led to {driver.current_url}, not /docs")
        if len(blocks) != a.operations:
            problems.append(f"{len(blocks)} operations rendered, the document has {a.operations}")
        text = driver.find_element(By.TAG_NAME, "body").text
        for want in ["cpms operator API", "Register a charger", "List sessions, newest first"]:
            if want not in text:
                problems.append(f"the page does not show {want!r}")
        hosts = set()
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                url = msg["params"]["request"]["url"]
                if url.startswith("http") and not url.startswith(a.api):
                    hosts.add(url)
        if hosts:
            problems.append(f"the page loaded from other hosts: {sorted(hosts)[:5]}")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and ".map" not in e["message"]]
        if errors:
            problems.append(f"browser errors: {errors[:3]}")
        if a.screenshot:
            driver.save_screenshot(a.screenshot)
    finally:
        driver.quit()
    print(json.dumps({"operations": a.operations, "problems": len(problems)}))
    for p in problems:
        print("FAIL", p, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
