// Charts drawn with the platform: SVG built by hand, no library, no build step. Each function
// redraws one <svg> from data; sizes come from the element's own width, so text is never
// stretched, and colours come from CSS (classes and currentColor), so the dark theme applies.

const NS = 'http://www.w3.org/2000/svg';
const PAD = { left: 44, right: 10, top: 10, bottom: 22 };

function el(name, attributes = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text != null) node.textContent = text;
  return node;
}

/** A round upper bound for a 4-tick axis at or above `value`: 4 × (1, 2, 2.5 or 5 × 10^n). */
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const tick = value / 4;
  const power = 10 ** Math.floor(Math.log10(tick));
  for (const step of [1, 2, 2.5, 5, 10]) if (tick <= step * power + 1e-12) return 4 * step * power;
  return 40 * power;
}

/** The value below which `p` (0–1) of `values` lie (nearest rank); null for no values. */
export function percentile(values, p) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

function frame(svg, height) {
  const width = Math.max(200, Math.round(svg.getBoundingClientRect().width) || 300);
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.replaceChildren();
  return { width, height, plotW: width - PAD.left - PAD.right, plotH: height - PAD.top - PAD.bottom };
}

function timeAxis(svg, box, windowMs) {
  const axis = el('g', { class: 'axis x-axis' });
  const ticks = box.plotW < 360 ? 2 : 4; // labels about 50 px wide never touch
  for (let i = 0; i <= ticks; i += 1) {
    const x = PAD.left + (box.plotW * i) / ticks;
    const secondsAgo = Math.round((windowMs / 1000) * (1 - i / ticks));
    axis.append(el('line', { x1: x, x2: x, y1: PAD.top, y2: PAD.top + box.plotH, class: 'grid' }));
    axis.append(el('text', { x, y: box.height - 6, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle' }, secondsAgo ? `−${secondsAgo} s` : 'now'));
  }
  svg.append(axis);
}

/**
 * A time-series line chart with a time axis (the last `windowMs`) and a value axis.
 * series: [{name, className, points: [{t, v}]}] (v null: no value, the line breaks);
 * lines:  [{value, label, className}] horizontal reference lines (percentiles);
 * markers: [{t, className, label}] vertical marks (reconnects, gaps).
 */
export function lineChart(svg, { series, lines = [], markers = [], windowMs, unit = '', height = 150, min = 0, max = null, floor = 1, format = (v) => String(v) }) {
  const box = frame(svg, height);
  const now = Date.now();
  const start = now - windowMs;
  const values = series.flatMap((s) => s.points.filter((p) => p.t >= start && p.v != null).map((p) => p.v));
  const top = max ?? niceMax(Math.max(floor, Math.max(0, ...values, ...lines.map((l) => l.value ?? 0)) * 1.1));
  const x = (t) => PAD.left + ((t - start) / windowMs) * box.plotW;
  const y = (v) => PAD.top + box.plotH - ((v - min) / (top - min || 1)) * box.plotH;

  const axis = el('g', { class: 'axis y-axis' });
  for (let i = 0; i <= 4; i += 1) {
    const value = min + ((top - min) * i) / 4;
    axis.append(el('line', { x1: PAD.left, x2: PAD.left + box.plotW, y1: y(value), y2: y(value), class: 'grid' }));
    axis.append(el('text', { x: PAD.left - 4, y: y(value) + 4, 'text-anchor': 'end' }, `${format(value)}${i === 4 && unit ? ` ${unit}` : ''}`));
  }
  svg.append(axis);
  timeAxis(svg, box, windowMs);

  for (const marker of markers) {
    if (marker.t < start) continue;
    const mark = el('line', { x1: x(marker.t), x2: x(marker.t), y1: PAD.top, y2: PAD.top + box.plotH, class: `marker ${marker.className}` });
    mark.append(el('title', {}, marker.label));
    svg.append(mark);
  }
  // Labels staggered from the right, so close percentiles do not print over each other.
  for (const [index, line] of lines.entries()) {
    if (line.value == null) continue;
    svg.append(el('line', { x1: PAD.left, x2: PAD.left + box.plotW, y1: y(line.value), y2: y(line.value), class: `reference ${line.className}` }));
    const label = el('text', { x: PAD.left + box.plotW - 4 - index * 34, y: y(line.value) - 3, 'text-anchor': 'end', class: `reference-label ${line.className}` }, line.label);
    label.append(el('title', {}, `${line.label}: ${format(line.value)}${unit ? ` ${unit}` : ''}`));
    svg.append(label);
  }
  for (const s of series) {
    let d = '';
    let pen = 'M';
    for (const point of s.points) {
      if (point.t < start || point.v == null) { pen = 'M'; continue; }
      d += `${pen}${x(point.t).toFixed(1)},${y(Math.min(top, point.v)).toFixed(1)} `;
      pen = 'L';
    }
    const path = el('path', { d: d.trim() || 'M0,0', class: `series ${s.className}`, 'data-series': s.name, 'data-points': s.points.filter((p) => p.t >= start && p.v != null).length });
    path.append(el('title', {}, s.name));
    svg.append(path);
  }
}

/**
 * The connection timeline: a strip of coloured segments, one per state, over the last
 * `windowMs`, with reconnects and gaps marked above it.
 * segments: [{from, to, state}] (to null: until now); markers: [{t, kind, label}].
 */
export function stateStrip(svg, { segments, markers = [], windowMs, height = 76 }) {
  const box = frame(svg, height);
  const now = Date.now();
  const start = now - windowMs;
  const x = (t) => PAD.left + ((Math.max(start, Math.min(now, t)) - start) / windowMs) * box.plotW;
  const stripTop = PAD.top + 12;
  const stripH = box.plotH - 24;
  svg.append(el('text', { x: PAD.left - 4, y: stripTop + stripH / 2 + 4, 'text-anchor': 'end', class: 'axis-label' }, 'state'));
  for (const segment of segments) {
    const to = segment.to ?? now;
    if (to < start) continue;
    const rect = el('rect', { x: x(segment.from), y: stripTop, width: Math.max(1, x(to) - x(segment.from)), height: stripH, class: `state-segment state-${segment.state}`, 'data-state': segment.state });
    rect.append(el('title', {}, `${segment.state} from ${new Date(segment.from).toLocaleTimeString()}`));
    svg.append(rect);
  }
  for (const marker of markers) {
    if (marker.t < start) continue;
    const g = el('g', { class: `strip-marker marker-${marker.kind}`, 'data-kind': marker.kind });
    const mx = x(marker.t);
    // Reconnects: a dot above the strip; gaps: a triangle below it, so both show when they coincide
    // (a resume's gap comes with its welcome).
    const bottom = stripTop + stripH;
    g.append(el('line', { x1: mx, x2: mx, y1: PAD.top, y2: bottom + (marker.kind === 'gap' ? 4 : 0) }));
    g.append(el('path', { d: marker.kind === 'gap' ? `M${mx - 5},${bottom + 10} L${mx + 5},${bottom + 10} L${mx},${bottom + 2} Z` : `M${mx},${PAD.top} m-4,4 a4,4 0 1,0 8,0 a4,4 0 1,0 -8,0` }));
    g.append(el('title', {}, marker.label));
    svg.append(g);
  }
  timeAxis(svg, box, windowMs);
}
