"""Drives the Tether dashboard in Debian's Chromium through Playwright, one scenario per run.

    scenarios.py SCENARIO --base http://127.0.0.1:PORT --shots DIR [--signals DIR]

Prints one JSON object (the scenario's observations) as its last stdout line; the Swift test
(Tests/DashboardTests) asserts on it. Every wait is bounded. The `restart` scenario needs the
test to stop and start the relay: it prints `STOP_RELAY` / `START_RELAY` and waits for the files
`stopped` / `started` in the signals directory.
"""

import argparse
import json
import os
import sys
import time
import urllib.request

from playwright.sync_api import sync_playwright

WAIT_MS = 20_000


def publish(base, topic, data):
    body = json.dumps({"topic": topic, "data": data}).encode()
    request = urllib.request.Request(base + "/v1/events", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["accepted"][0]


def wait_state(page, state, timeout=WAIT_MS):
    page.wait_for_selector(f'#connection-badge[data-state="{state}"]', timeout=timeout)


def wait_seqs(page, seqs, timeout=WAIT_MS):
    selector = ",".join(f'#event-stream li[data-seq="{s}"]' for s in seqs)
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length >= n", arg=[selector, len(seqs)], timeout=timeout)


def stream_seqs(page):
    return page.eval_on_selector_all("#event-stream li", "rows => rows.map(r => Number(r.dataset.seq))")


def record_states(page):
    page.evaluate("""() => {
        window.__states = [];
        window.tether.connection.addEventListener('state', e => window.__states.push(e.detail.state));
    }""")


def wait_file(path, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            return
        time.sleep(0.05)
    raise TimeoutError(f"no {path} within {timeout} s")


def open_debug_panel(page):
    page.keyboard.press("Control+Shift+D")
    page.wait_for_selector("#debug-panel:not([hidden])", timeout=WAIT_MS)


def scenario_basic(page, args, result):
    page.goto(args.base + "/?statsInterval=500&stabilityDuration=3000")
    wait_state(page, "connected")
    result["badge_text"] = page.inner_text("#connection-badge")
    seqs = [publish(args.base, "browser.test", {"n": n}) for n in range(3)]
    wait_seqs(page, seqs)
    result["published"] = seqs
    result["stream"] = stream_seqs(page)
    page.wait_for_selector("#clients-table tbody tr.me", timeout=WAIT_MS)
    result["clients_rows"] = page.eval_on_selector_all("#clients-table tbody tr", "rows => rows.length")
    page.wait_for_function("() => window.tether.connection.getMetrics().latencyMs != null", timeout=WAIT_MS)
    metrics = page.evaluate("() => window.tether.connection.getMetrics()")
    result["metrics_state"] = metrics["state"]
    result["metrics_quality"] = metrics["quality"]
    result["stored_last_sequence"] = page.evaluate("() => localStorage.getItem('tether.last_sequence')")
    result["stored_client_id"] = page.evaluate("() => localStorage.getItem('tether.client_id')")
    # A topic filter hides the rest.
    publish(args.base, "other.topic", {"x": 1})
    page.fill("#topic-filter", "browser")
    result["visible_after_filter"] = page.eval_on_selector_all(
        "#event-stream li:not([hidden])", "rows => rows.map(r => r.dataset.topic)")
    page.fill("#topic-filter", "")
    page.wait_for_timeout(300)  # let the latency chart and toasts settle for the screenshot
    page.screenshot(path=os.path.join(args.shots, "dashboard.png"), full_page=True)

    open_debug_panel(page)
    result["panel_open"] = True
    page.click("#test-latency")
    page.wait_for_selector("#latency-test-result[data-value]", timeout=WAIT_MS)
    result["latency_test"] = page.get_attribute("#latency-test-result", "data-value")
    page.click("#test-throughput")
    page.wait_for_selector("#throughput-test-result[data-value]", timeout=WAIT_MS)
    result["throughput_test"] = page.get_attribute("#throughput-test-result", "data-value")
    page.click("#test-stability")
    page.wait_for_selector("#stability-test-result[data-value]", timeout=WAIT_MS)
    result["stability_test"] = json.loads(page.get_attribute("#stability-test-result", "data-value"))
    with page.expect_download(timeout=WAIT_MS) as download_info:
        page.click("#action-export-logs")
    path = download_info.value.path()
    with open(path) as file:
        exported = json.load(file)
    result["export_keys"] = sorted(exported.keys())
    result["export_timeline_entries"] = len(exported["timeline"])
    result["export_filename"] = download_info.value.suggested_filename
    page.screenshot(path=os.path.join(args.shots, "debug-panel.png"), full_page=False)
    page.keyboard.press("Control+Shift+D")
    page.wait_for_selector("#debug-panel[hidden]", state="attached", timeout=WAIT_MS)
    result["panel_closed"] = True


def scenario_replay(page, args, result):
    page.goto(args.base + "/?baseDelay=1500&jitter=0")
    wait_state(page, "connected")
    before = [publish(args.base, "replay.test", {"phase": "before", "n": n}) for n in range(2)]
    wait_seqs(page, before)
    record_states(page)
    open_debug_panel(page)
    page.click("#action-simulate-disconnect")
    wait_state(page, "reconnecting")
    between = [publish(args.base, "replay.test", {"phase": "between", "n": n}) for n in range(3)]
    # Publishes made in the page while offline wait in the local buffer.
    page.evaluate("() => [0, 1, 2].forEach(n => window.tether.connection.publish('offline.test', {n}))")
    result["buffered_while_offline"] = page.evaluate("() => window.tether.connection.getMetrics().bufferedPublishes")
    wait_state(page, "connected")
    wait_seqs(page, between)
    page.wait_for_function(
        "() => document.querySelectorAll('#event-stream li[data-topic=\"offline.test\"]').length >= 3", timeout=WAIT_MS)
    # Oldest first: [seq, n] in the order they were assigned.
    result["offline_events"] = page.eval_on_selector_all(
        '#event-stream li[data-topic="offline.test"]',
        "rows => rows.reverse().map(r => [Number(r.dataset.seq), JSON.parse(r.querySelector('.data').textContent).n])")
    after = [publish(args.base, "replay.test", {"phase": "after"})]
    wait_seqs(page, after)
    result["states"] = page.evaluate("() => window.__states")
    result["published"] = before + between + after
    result["stream"] = stream_seqs(page)
    result["metrics"] = page.evaluate("() => window.tether.connection.getMetrics()")


def scenario_restart(page, args, result):
    page.goto(args.base + "/?baseDelay=200&maxDelay=5000&maxAttempts=4&jitter=0.3&connectTimeout=2000")
    wait_state(page, "connected")
    before = [publish(args.base, "restart.test", {"phase": "before", "n": n}) for n in range(2)]
    wait_seqs(page, before)
    record_states(page)
    print("STOP_RELAY", flush=True)
    wait_file(os.path.join(args.signals, "stopped"))
    wait_state(page, "reconnecting")
    wait_state(page, "failed", timeout=60_000)
    metrics = page.evaluate("() => window.tether.connection.getMetrics()")
    result["delays"] = metrics["recentDelaysMs"]
    result["attempts_at_failure"] = metrics["attempt"]
    result["failed_badge_text"] = page.inner_text("#connection-badge")
    result["retry_visible"] = page.is_visible("#retry-button")
    page.screenshot(path=os.path.join(args.shots, "failed.png"))
    print("START_RELAY", flush=True)
    wait_file(os.path.join(args.signals, "started"))
    while_down = [publish(args.base, "restart.test", {"phase": "after-restart", "n": n}) for n in range(2)]
    page.click("#retry-button")
    wait_state(page, "connected")
    wait_seqs(page, while_down)
    result["states"] = page.evaluate("() => window.__states")
    result["published"] = before + while_down
    result["stream"] = stream_seqs(page)
    result["welcome"] = page.evaluate("() => window.tether.connection.welcome")
    result["stored_last_sequence"] = page.evaluate("() => localStorage.getItem('tether.last_sequence')")


def scenario_stale(page, args, result):
    # No pings or stats of our own, a 1 s activity timeout: the relay's own ping (every 10 s) is
    # the only inbound traffic, so the page goes stale and comes back on that ping.
    page.goto(args.base + "/?activityTimeout=1000&pingInterval=0&heartbeatInterval=0&statsInterval=0&history=0")
    wait_state(page, "connected")
    record_states(page)
    wait_state(page, "stale")
    result["stale_badge_text"] = page.inner_text("#connection-badge")
    page.screenshot(path=os.path.join(args.shots, "stale.png"), clip={"x": 0, "y": 0, "width": 1280, "height": 60})
    wait_state(page, "connected", timeout=30_000)
    result["states"] = page.evaluate("() => window.__states")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["basic", "replay", "restart", "stale"])
    parser.add_argument("--base", required=True)
    parser.add_argument("--shots", required=True)
    parser.add_argument("--signals", default=".")
    args = parser.parse_args()
    os.makedirs(args.shots, exist_ok=True)
    result = {"scenario": args.scenario, "console_errors": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860}, accept_downloads=True)
            page.on("console", lambda m: result["console_errors"].append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: result["console_errors"].append(str(e)))
            try:
                globals()["scenario_" + args.scenario](page, args, result)
                result["ok"] = True
            except Exception as error:  # report what was seen so far, then fail
                result["ok"] = False
                result["error"] = f"{type(error).__name__}: {error}"
                try:
                    page.screenshot(path=os.path.join(args.shots, f"{args.scenario}-error.png"))
                except Exception:
                    pass
        finally:
            browser.close()
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
