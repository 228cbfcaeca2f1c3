"""The dashboard's views in Chromium: charts, layout at every width in both themes, toasts, and
the close-code table as the page follows it. Each scenario records what a person would check and
saves screenshots for a person to look at; the Swift test (DashboardViewTests) asserts."""

import os

from common import (WAIT_MS, get_json, overlaps, publish, rect, wait_seqs, wait_state)

SHOT_WIDTHS = {360, 768, 1400}
LAYOUT_WIDTHS = [360, 420, 768, 1400, 1920]
CONTROLS = "button:not(.toast-close), input, select, a[href]"


def new_page(browser, width, scheme, result, height=900):
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
    page = context.new_page()
    page.on("console", lambda m: result["console_errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: result["console_errors"].append(str(e)))
    return context, page


def toast_overlaps(page):
    """Toasts that cover a visible control outside the toasts, as [toast text, control id]."""
    return page.evaluate("""(controls) => {
        const box = (e) => e.getBoundingClientRect();
        const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
        const shown = [...document.querySelectorAll(controls)].filter(c => !c.closest('#toasts') && c.offsetParent !== null);
        const found = [];
        for (const toast of document.querySelectorAll('#toasts .toast'))
            for (const control of shown) if (hit(box(toast), box(control))) found.push([toast.textContent, control.id || control.textContent]);
        return found;
    }""", CONTROLS)


def scenario_charts(browser, page, args, result):
    """Traffic, a reconnect and a declared gap (the relay's lag cap is 5), then what each chart drew."""
    page.goto(args.base + "/?pingInterval=250&statsInterval=400&baseDelay=1500&jitter=0")
    wait_state(page, "connected")
    seqs = []
    for n in range(12):
        seqs.append(publish(args.base, "chart.test", {"n": n}))
        page.wait_for_timeout(100)  # spread over more than one second, so the rate chart has a shape
    wait_seqs(page, seqs)
    page.wait_for_function("() => window.tether.history.latency.length >= 5", timeout=WAIT_MS)
    page.evaluate("() => window.tether.connection.simulateDisconnect()")
    wait_state(page, "reconnecting")
    offline = [publish(args.base, "chart.test", {"offline": n}) for n in range(20)]
    wait_state(page, "connected")
    wait_seqs(page, offline[-5:])
    page.wait_for_function("() => window.tether.history.markers.some(m => m.kind === 'gap')", timeout=WAIT_MS)
    page.wait_for_function("() => window.tether.history.relay.filter(s => s.published != null).length >= 3", timeout=WAIT_MS)
    page.wait_for_function("() => document.querySelectorAll('#timeline-chart .strip-marker').length >= 2", timeout=WAIT_MS)
    page.wait_for_timeout(1200)  # one more one-second sample for the screenshot
    result["latency_points"] = int(page.get_attribute("#latency-chart path.series", "data-points"))
    result["latency_references"] = page.eval_on_selector_all("#latency-chart .reference-label", "ls => ls.map(l => l.firstChild.nodeValue)")
    result["latency_axis_labels"] = page.eval_on_selector_all("#latency-chart .y-axis text", "ts => ts.map(t => t.textContent)")
    result["time_axis_labels"] = page.eval_on_selector_all("#latency-chart .x-axis text", "ts => ts.map(t => t.textContent)")
    result["latency_summary"] = page.inner_text("#latency-summary")
    result["received_max"] = page.evaluate("() => Math.max(...window.tether.history.samples.map(s => s.received))")
    result["received_points"] = int(page.get_attribute("#received-chart path.series", "data-points"))
    result["relay_series"] = page.eval_on_selector_all("#relay-rate-chart path.series", "ps => ps.map(p => [p.dataset.series, Number(p.dataset.points)])")
    result["relay_published_max"] = page.evaluate("() => Math.max(...window.tether.history.relay.map(s => s.published ?? 0))")
    result["lag_points"] = int(page.get_attribute("#lag-chart path.series", "data-points"))
    result["quality_series"] = page.eval_on_selector_all("#quality-chart path.series", "ps => ps.map(p => [p.dataset.series, Number(p.dataset.points)])")
    result["strip_states"] = page.eval_on_selector_all("#timeline-chart .state-segment", "rs => rs.map(r => r.dataset.state)")
    result["strip_markers"] = page.eval_on_selector_all("#timeline-chart .strip-marker", "ms => ms.map(m => m.dataset.kind)")
    result["gap_toast"] = page.eval_on_selector_all("#toasts .toast-text", "ts => ts.map(t => t.textContent).filter(t => t.includes('will not arrive'))")
    page.screenshot(path=os.path.join(args.shots, "charts.png"), full_page=True)


UNDERSCORE_INK = """(selector) => {
    const e = document.querySelector(selector);
    const style = getComputedStyle(e);
    const context = document.createElement('canvas').getContext('2d');
    context.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const glyph = context.measureText('_');
    const range = document.createRange();
    range.selectNodeContents(e);
    const text = range.getClientRects()[0];
    const inkBottom = text.top + glyph.fontBoundingBoxAscent + glyph.actualBoundingBoxDescent;
    const clipBottom = e.getBoundingClientRect().bottom - parseFloat(style.borderBottomWidth);
    return {inkBottom, clipBottom};
}"""


def underscore_clipped(page, selector):
    """Whether a cell that clips its overflow cuts off the bottom of an underscore: where the
    underscore's ink ends (the font's ascent above the baseline, the glyph's descent below it,
    measured on a canvas with the cell's font) against the bottom of the cell's clip box.
    On the old page `latency_ms` lost its underscore's last pixel row this way."""
    ink = page.evaluate(UNDERSCORE_INK, selector)
    return ink["inkBottom"] > ink["clipBottom"] + 0.01


def scenario_layout(browser, page, args, result):
    for n in range(3):
        publish(args.base, "sensor_readings.latency", {"latency_ms": 12 + n, "under_score": "a_b_c"})
    views = {}
    for width in LAYOUT_WIDTHS:
        for scheme in ["light", "dark"]:
            context, view = new_page(browser, width, scheme, result)
            try:
                view.goto(args.base + "/?statsInterval=500&pingInterval=500")
                wait_state(view, "connected")
                view.wait_for_selector("#clients-table tbody tr.me", timeout=WAIT_MS)
                view.wait_for_selector('#event-stream li[data-topic="sensor_readings.latency"]', timeout=WAIT_MS)
                view.wait_for_function("() => window.tether.history.latency.length >= 3", timeout=WAIT_MS)
                view.wait_for_timeout(600)  # a chart redraw and a stats refresh after the first ones
                card = rect(view, ".clients")
                table = rect(view, "#clients-table")
                data = rect(view, "#event-stream li .data")
                facts = view.evaluate("""() => ({
                    pageWidth: document.documentElement.scrollWidth, viewport: innerWidth,
                    tableScrolls: (() => { const s = document.querySelector('.table-scroll'); return s.scrollWidth > s.clientWidth + 1; })(),
                    background: getComputedStyle(document.documentElement).backgroundColor,
                    text: getComputedStyle(document.body).color,
                    chartWidths: [...document.querySelectorAll('svg.chart')].map(s => Math.round(s.getBoundingClientRect().width)),
                })""")
                facts["table_inside_card"] = table["x"] >= card["x"] - 1 and table["x"] + table["w"] <= card["x"] + card["w"] + 1
                facts["data_column_width"] = round(data["w"])
                facts["data_column_inside_viewport"] = data["x"] + data["w"] <= width + 1
                facts["underscore_clipped"] = underscore_clipped(view, "#event-stream li .data")
                facts["topic_underscore_clipped"] = underscore_clipped(view, "#event-stream li .topic")
                facts["toasts_over_controls"] = toast_overlaps(view)
                views[f"{width}-{scheme}"] = facts
                if width in SHOT_WIDTHS:
                    view.screenshot(path=os.path.join(args.shots, f"dashboard-{width}-{scheme}.png"), full_page=True)
                    view.keyboard.press("Control+Shift+D")
                    view.wait_for_selector("#debug-panel:not([hidden])", timeout=WAIT_MS)
                    view.screenshot(path=os.path.join(args.shots, f"debug-panel-{width}-{scheme}.png"))
            finally:
                context.close()
    result["views"] = views


def scenario_toasts(browser, page, args, result):
    for width in [360, 1400]:
        context, view = new_page(browser, width, "light", result)
        try:
            view.goto(args.base + "/?baseDelay=100&jitter=0")
            wait_state(view, "connected")
            # The same event four times, then other notices: deduplicated, at most three, newest on top.
            for _ in range(4):
                view.evaluate("() => window.tether.connection.forceReconnect()")
                view.wait_for_function("() => window.tether.connection.state === 'connected'", timeout=WAIT_MS)
            view.evaluate("() => window.tether.connection.simulateDisconnect()")
            wait_state(view, "connected")
            after_disconnect = view.eval_on_selector_all("#toasts .toast-text", "ts => ts.map(t => t.textContent)")
            view.fill("#publish-data", "{not json")
            view.click("#publish-form button[type=submit]")
            view.evaluate("() => window.tether.toasts.show('The newest notice.', 'info')")
            texts = view.eval_on_selector_all("#toasts .toast", "ts => ts.map(t => [t.querySelector('.toast-text').textContent, t.dataset.count])")
            lost = view.evaluate("() => import('/dashboard/js/close-codes.js').then(m => m.closeRule(1006).text)")
            result[f"toasts_{width}"] = {
                "texts": texts,
                "over_controls": toast_overlaps(view),
                "connection_lost_text": lost,
                "after_disconnect": after_disconnect,
            }
            view.screenshot(path=os.path.join(args.shots, f"toasts-{width}.png"))
        finally:
            context.close()
    # The count of one notice shown again: dedup keeps one toast and counts.
    page.goto(args.base + "/")
    wait_state(page, "connected")
    for _ in range(3):
        page.evaluate("() => window.tether.toasts.show('Same notice.', 'warning')")
    result["dedup"] = page.eval_on_selector_all("#toasts .toast", "ts => ts.map(t => [t.querySelector('.toast-text').textContent, t.dataset.count])")


def scenario_closecodes(browser, _, args, result):
    """The page's copy of the table, and the page following it on closes the relay really sends."""
    context, page = new_page(browser, 1280, "light", result)
    page.goto(args.base + "/?baseDelay=100&jitter=0")
    wait_state(page, "connected")
    codes = list(range(999, 1017)) + [2999, 3000, 3003, 3008, 3999] + list(range(3999, 4004)) + [4499, 4500, 4501, 4502, 4503, 4504, 4505, 4510, 4511, 4999, 5000]
    result["page_rules"] = page.evaluate("""(codes) => import('/dashboard/js/close-codes.js').then(m =>
        codes.map(c => { const r = m.closeRule(c); return [c, r.action, r.text, m.reconnectsAfter(c)]; }))""", codes)
    result["transitions"] = page.evaluate("() => import('/dashboard/js/connection-states.js').then(m => m.TRANSITIONS)")
    result["refused_transition"] = page.evaluate("""() => import('/dashboard/js/connection-states.js').then(m => {
        const machine = new m.ConnectionStateMachine('failed');
        return [machine.move('stale', 'test'), machine.state];
    })""")
    first_id = page.evaluate("() => window.tether.connection.clientId")

    # 4501: a position beyond the head of the relay's own epoch → forget it, reconnect.
    page.evaluate("() => { localStorage.setItem('tether.last_sequence', '999999'); window.tether.connection.forceReconnect(); }")
    page.wait_for_function("() => window.tether.connection.lastClose && window.tether.connection.lastClose.code === 4501", timeout=WAIT_MS)
    wait_state(page, "connected")
    result["after_4501"] = page.evaluate("() => ({state: window.tether.connection.state, id: window.tether.connection.clientId})")

    # 4503: a wrong resume token → forget the identity, reconnect as a new client.
    page.evaluate("() => { localStorage.setItem('tether.resume_token', 'not-the-secret'); window.tether.connection.forceReconnect(); }")
    page.wait_for_function("() => window.tether.connection.lastClose && window.tether.connection.lastClose.code === 4503", timeout=WAIT_MS)
    wait_state(page, "connected")
    result["after_4503"] = page.evaluate("() => ({state: window.tether.connection.state, id: window.tether.connection.clientId})")
    result["first_id"] = first_id

    # 4504: the same client opens in a second tab (same storage) → this one stops, no reconnect.
    second = context.new_page()
    second.goto(args.base + "/")
    wait_state(second, "connected")
    wait_state(page, "disconnected")
    result["after_4504"] = page.evaluate("() => ({state: window.tether.connection.state, reconnectScheduled: window.tether.connection.backoff.timer != null})")
    result["toasts_4504"] = page.eval_on_selector_all("#toasts .toast-text", "ts => ts.map(t => t.textContent)")
    second.close()

    # 4500: a frame the relay refuses → failed, with the table's text.
    page.click("#retry-button")
    wait_state(page, "connected")
    page.evaluate("() => window.tether.connection.transport.ws.send('not json')")
    wait_state(page, "failed")
    result["after_4500"] = page.evaluate("() => ({state: window.tether.connection.state, close: window.tether.connection.lastClose.code})")
    result["toasts_4500"] = page.eval_on_selector_all("#toasts .toast-text", "ts => ts.map(t => t.textContent)")
    result["badge_4500"] = page.inner_text("#connection-badge")


SCENARIOS = {
    "charts": scenario_charts,
    "layout": scenario_layout,
    "toasts": scenario_toasts,
    "closecodes": scenario_closecodes,
}
