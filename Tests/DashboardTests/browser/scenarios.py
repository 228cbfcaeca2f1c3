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

from playwright.sync_api import sync_playwright

from common import (WAIT_MS, Subscriber, get_json, open_debug_panel, publish, record_states, stream_seqs,
                    wait_file, wait_seqs, wait_state)
import views


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
    # The panel's metrics follow events as they come, not only its one-second refresh.
    page.evaluate("() => clearInterval(window.tether.debugPanel.refreshTimer)")
    more = [publish(args.base, "browser.test", {"latency_ms": n}) for n in range(5)]
    wait_seqs(page, more)
    page.wait_for_function("(seq) => document.querySelector('#debug-metrics dd[data-metric=\"last-sequence\"]').textContent === String(seq)",
                           arg=max(more), timeout=5_000)
    result["panel_last_sequence"] = page.inner_text('#debug-metrics dd[data-metric="last-sequence"]')
    result["stream_newest"] = max(stream_seqs(page))
    page.evaluate("() => window.tether.debugPanel.toggle(true)")  # the refresh timer again

    # The network tests leave no trace: nothing in the log, nothing for other subscribers.
    spy = Subscriber(args.base)
    before = get_json(args.base, "/v1/stats")["totals"]
    page.click("#test-latency")
    page.wait_for_selector("#latency-test-result[data-value]", timeout=WAIT_MS)
    result["latency_test"] = page.get_attribute("#latency-test-result", "data-value")
    page.click("#test-throughput")
    page.wait_for_selector("#throughput-test-result[data-value]", timeout=WAIT_MS)
    result["throughput_test"] = page.get_attribute("#throughput-test-result", "data-value")
    page.click("#test-stability")
    page.wait_for_selector("#stability-test-result[data-value]", timeout=WAIT_MS)
    result["stability_test"] = json.loads(page.get_attribute("#stability-test-result", "data-value"))
    after = get_json(args.base, "/v1/stats")["totals"]
    result["head_before_tests"] = before["head_sequence"]
    result["head_after_tests"] = after["head_sequence"]
    result["published_before_tests"] = before["published"]
    result["published_after_tests"] = after["published"]
    result["log_after_tests"] = get_json(args.base, f"/v1/events?after={before['head_sequence']}")["events"]
    result["second_subscriber_events"] = len(spy.drain())
    spy.close()
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
    result["quality_level_at_failure"] = page.get_attribute("#quality-bar", "data-level")
    result["quality_text_at_failure"] = page.inner_text("#quality-value")
    result["toasts_at_failure"] = page.eval_on_selector_all("#toasts .toast-text", "ts => ts.map(t => t.textContent)")
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
    # No pings or stats of our own and no stale timeout in the URL: the relay (started with a
    # 2 s stale timeout) says it in its welcome. Its own ping (every 10 s) is the only inbound
    # traffic, so the page goes stale after the relay's 2 s and comes back on that ping.
    page.goto(args.base + "/?pingInterval=0&heartbeatInterval=0&statsInterval=0&history=0")
    wait_state(page, "connected")
    result["welcome_stale_timeout_ms"] = page.evaluate("() => window.tether.connection.welcome.stale_timeout_ms")
    result["page_stale_timeout_ms"] = page.evaluate("() => window.tether.connection.getMetrics().staleTimeoutMs")
    record_states(page)
    wait_state(page, "stale")
    result["stale_badge_text"] = page.inner_text("#connection-badge")
    page.screenshot(path=os.path.join(args.shots, "stale.png"), clip={"x": 0, "y": 0, "width": 1280, "height": 60})
    wait_state(page, "connected", timeout=30_000)
    result["states"] = page.evaluate("() => window.__states")


def watch_console(page, result):
    page.on("console", lambda m: result["console_errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: result["console_errors"].append(str(e)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["basic", "replay", "restart", "stale"] + sorted(views.SCENARIOS))
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
            watch_console(page, result)
            try:
                if args.scenario in views.SCENARIOS:
                    views.SCENARIOS[args.scenario](browser, page, args, result)
                else:
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
