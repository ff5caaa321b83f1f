/* Mealytics dashboard: windows the daily mart rows in the browser and draws hand-written SVG
   charts. One script for two pages: the static file (the payload embedded at publish time,
   the periods day / week / month / year) and the live page `mealytics serve` answers at
   /dashboard (no payload embedded: it asks for an API token, fetches the payload and the
   stored widgets from the API, arranges the panels by the widgets, and adds any date range).
   A window is a period, the last N days (a widget's `days`) or a date range; every panel
   draws over the window in force (`current()`). Every chart container gets data-rendered = the number of data
   points it drew (0: nothing in the window), or data-missing = the mart it needs when that
   mart is not built. Money is never added across currencies: with "all websites", money
   figures and charts are shown per currency. Every drawn figure carries what it shows, for
   tests and scrapers: marks (bars, points, donut arcs, heat cells) data-label, data-series
   and data-value (the unrounded number), stats data-name. */
(function () {
  "use strict";
  const EMBEDDED = JSON.parse(document.getElementById("payload").textContent);
  /* The live page: no payload in the file (the server writes null). */
  const LIVE = EMBEDDED === null;
  let D = EMBEDDED || { websites: [], periods: {}, marts: [] };
  const PALETTE = ["#2e6bd1", "#e07a1f", "#12805c", "#9b4dca", "#c0362c", "#0f9bb0", "#b58900", "#6b7280", "#d6457b", "#4b5bd6"];
  const SVGNS = "http://www.w3.org/2000/svg";
  const state = { period: "month", website: "all", from: null, to: null };

  /* ---------- data access ---------- */
  let cache = {};
  function T(name) {
    if (!(name in cache)) {
      const t = D[name];
      cache[name] = t ? t.rows.map((r) => Object.fromEntries(t.cols.map((c, i) => [c, r[i]]))) : null;
    }
    return cache[name];
  }
  let sites = D.websites;
  let siteById = Object.fromEntries(sites.map((s) => [String(s.id), s]));
  /* A new payload (the live page's fetches). */
  function load(payload) {
    D = payload;
    cache = {};
    sites = D.websites;
    siteById = Object.fromEntries(sites.map((s) => [String(s.id), s]));
  }
  function addDays(iso, n) {
    const d = new Date(iso + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }
  function daysFrom(a, b) { return Math.round((Date.parse(b + "T00:00:00Z") - Date.parse(a + "T00:00:00Z")) / 864e5); }
  /* Windows: {period} (D.periods[period] days up to each website's as_of), {days} (the last
     N days up to as_of) or {from, to} (a date range, the same for every website). */
  let drawing = null; // the window of the panel being drawn (a widget's own); null: the page's
  let conf = {}; // the configuration of the widget being drawn
  function pageWindow() { return state.period === "range" ? { from: state.from, to: state.to } : { period: state.period }; }
  function current() { return drawing || pageWindow(); }
  function spanOf(w) { return w.period ? D.periods[w.period] : w.days ? w.days : daysFrom(w.from, w.to) + 1; }
  /* The window's key in the payload (`windows`, `kitchen_hours`): the period, `<N>d` or `<from>..<to>`. */
  function keyOf(w) { return w.period ? w.period : w.days ? w.days + "d" : w.from + ".." + w.to; }
  function windowOf(site) {
    const w = current(), n = spanOf(w);
    const end = w.to || site.as_of, start = w.from || addDays(end, -(n - 1));
    return { start, end, prevStart: addDays(start, -n), prevEnd: addDays(start, -1) };
  }
  /* The payload's figures of `site` for the window in force (distinct customers, engagement). */
  function figuresOf(site) { return (D.windows || {})[`${site.id}|${keyOf(current())}`]; }
  /* "at as_of", or the range's last day. */
  function atEnd() { const w = current(); return w.to ? "at " + w.to : "at as_of"; }
  function selected() {
    return state.website === "all" ? sites : [siteById[state.website]];
  }
  function byCurrency(list) {
    const groups = new Map();
    for (const s of list) {
      if (!groups.has(s.currency)) groups.set(s.currency, []);
      groups.get(s.currency).push(s);
    }
    return [...groups.entries()].map(([currency, members]) => ({ currency, sites: members }));
  }
  /* Rows of a daily table for `list` of websites inside their window (or previous one). */
  function windowRows(name, list, previous) {
    const rows = T(name) || [];
    const wins = Object.fromEntries(list.map((s) => [String(s.id), windowOf(s)]));
    return rows.filter((r) => {
      const w = wins[String(r.website_id)];
      if (!w) return false;
      const lo = previous ? w.prevStart : w.start, hi = previous ? w.prevEnd : w.end;
      return r.business_date >= lo && r.business_date <= hi;
    });
  }
  /* Rows of a monthly table (`month`, first day) for the months `list`'s windows touch. */
  function monthRows(name, list) {
    const rows = T(name) || [];
    const wins = Object.fromEntries(list.map((s) => [String(s.id), windowOf(s)]));
    return rows.filter((r) => {
      const w = wins[String(r.website_id)];
      return w && r.month >= w.start.slice(0, 8) + "01" && r.month <= w.end;
    });
  }
  /* Each website's row of its last date up to the window's end (as_of for the periods: a
     state at the end of a day). */
  function lastRows(name, list) {
    return list.map((x) => { const end = windowOf(x).end; return (T(name) || []).filter((r) => String(r.website_id) === String(x.id) && r.business_date <= end).pop(); }).filter(Boolean);
  }
  /* Each website's rows of the month of the window's end (monthly figures whose medians do not add up). */
  function asOfMonthRows(name, list) {
    const months = Object.fromEntries(list.map((x) => [String(x.id), windowOf(x).end.slice(0, 8) + "01"]));
    return (T(name) || []).filter((r) => months[String(r.website_id)] === r.month);
  }
  const pctOf = (a, b) => (b ? fmtPct(r2((100 * a) / b)) : "n/a");
  const cellOf = (v, f) => (v == null ? "n/a" : f(Number(v)));
  function sum(rows, col) { let t = 0; for (const r of rows) t += Number(r[col] || 0); return t; }
  function sumBy(rows, keyFn, col) {
    const m = new Map();
    for (const r of rows) { const k = keyFn(r); m.set(k, (m.get(k) || 0) + Number(r[col] || 0)); }
    return m;
  }
  function forSites(name, list) {
    const ids = new Set(list.map((s) => String(s.id)));
    return (T(name) || []).filter((r) => ids.has(String(r.website_id)));
  }
  function dateAxis(list) {
    const wins = list.map(windowOf);
    let lo = wins[0].start, hi = wins[0].end;
    for (const w of wins) { if (w.start < lo) lo = w.start; if (w.end > hi) hi = w.end; }
    const out = [];
    for (let d = lo; d <= hi; d = addDays(d, 1)) out.push(d);
    return out;
  }

  /* ---------- formatting ---------- */
  const r2 = (x) => Math.round(x * 100) / 100;
  const fmtInt = (x) => Math.round(x).toLocaleString("en-US");
  const fmtMoney = (x, cur) => cur + " " + x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const fmtPct = (x) => (x == null ? "n/a" : x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + "%");
  function compact(x) {
    const a = Math.abs(x);
    if (a >= 1e9) return (x / 1e9).toFixed(a >= 1e10 ? 0 : 1) + "B";
    if (a >= 1e6) return (x / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
    if (a >= 1e3) return (x / 1e3).toFixed(a >= 1e4 ? 0 : 1) + "K";
    return String(r2(x));
  }
  const label = (s) => String(s).replace(/_/g, " ");

  /* ---------- DOM and SVG helpers ---------- */
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v; else if (k === "cls") e.className = v; else e.setAttribute(k, v);
    }
    for (const k of kids) if (k != null) e.append(k);
    return e;
  }
  function s(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    return e;
  }
  function tip(node, text) { node.append(s("title", {}, text)); return node; }
  function legend(items) {
    const box = el("div", { cls: "legend" });
    items.forEach(([name, color]) => box.append(el("span", { style: "--c:" + color, text: name })));
    return box;
  }
  /* A round tick step (1, 2, 2.5 or 5 × 10^k) giving about four intervals up to `v`. */
  function niceStep(v) {
    if (v <= 0) return 1;
    const raw = v / 4, p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }
  function ticksOf(lo, hi, step) { const out = []; for (let v = lo; v <= hi + step / 2; v += step) out.push(v); return out; }
  /* Charts draw at their container's pixel width, so text stays legible at any width. */
  function widthOf(target) { return Math.max(260, Math.round(target.clientWidth || 640)); }
  function empty(target, text) { target.append(el("p", { cls: "empty", text: text || "No data in this window." })); return 0; }

  /* A line chart over `labels` (dates); series: [{name, values, color, dash}]. */
  function lineChart(target, labels, series, fmt) {
    const W = widthOf(target), H = W < 420 ? 180 : 220, L = 46, R = 10, TOP = 10, B = 24;
    const all = series.flatMap((x) => x.values);
    if (!labels.length || !all.some((v) => v !== 0)) return empty(target);
    const least = Math.min(0, ...all), most = Math.max(...all), step = niceStep(most - least);
    const lo = -Math.ceil(-least / step) * step, hi = Math.max(Math.ceil(most / step), 1) * step;
    const x = (i) => L + (labels.length === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (labels.length - 1));
    const y = (v) => TOP + (H - TOP - B) * (1 - (v - lo) / (hi - lo || 1));
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
    for (const v of ticksOf(lo, hi, step)) {
      svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e4e7ec" }));
      svg.append(s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, compact(v)));
    }
    const ticks = labels.length === 1 ? [0] : [0, Math.floor((labels.length - 1) / 2), labels.length - 1];
    for (const i of ticks) svg.append(s("text", { x: x(i), y: H - 6, "text-anchor": i === 0 && labels.length > 1 ? "start" : i === labels.length - 1 && labels.length > 1 ? "end" : "middle" }, labels[i]));
    let points = 0;
    for (const ser of series) {
      const d = ser.values.map((v, i) => (i ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1)).join(" ");
      svg.append(s("path", { d, fill: "none", stroke: ser.color, "stroke-width": 2, "stroke-dasharray": ser.dash ? "5 4" : "none", "data-series": ser.name, "data-labels": labels.join(" "), "data-values": ser.values.join(" ") }));
      if (labels.length <= 62) {
        ser.values.forEach((v, i) => svg.append(tip(s("circle", { cx: x(i), cy: y(v), r: labels.length === 1 ? 5 : 2.5, fill: ser.color, "data-series": ser.name, "data-label": labels[i], "data-value": v }), `${labels[i]} ${ser.name}: ${fmt(v)}`)));
      }
      points += ser.values.length;
    }
    target.append(svg, legend(series.map((x) => [x.name, x.color])));
    return points;
  }

  /* Horizontal bars: items [{label, value, color, text}]. */
  function hbars(target, items, fmt) {
    items = items.filter((i) => i.value !== 0);
    if (!items.length) return empty(target);
    const W = widthOf(target), row = 24, H = items.length * row + 6;
    const texts = items.map((it) => (it.text != null ? it.text : fmt(it.value)));
    const R = Math.min(W * 0.4, 10 + 6.3 * Math.max(...texts.map((x) => x.length)));
    const L = Math.min(160, W * 0.34), chars = Math.floor(L / 6.4);
    const max = Math.max(...items.map((i) => Math.abs(i.value)));
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
    items.forEach((it, k) => {
      const yy = 3 + k * row, w = ((W - L - R) * Math.abs(it.value)) / (max || 1);
      const name = String(it.label);
      svg.append(s("text", { x: L - 8, y: yy + 16, "text-anchor": "end" }, name.length > chars ? name.slice(0, chars - 1) + "…" : name));
      svg.append(tip(s("rect", { x: L, y: yy + 3, width: Math.max(w, 1), height: row - 8, rx: 3, fill: it.color || PALETTE[0], "data-label": name, "data-value": it.value }), `${name}: ${fmt(it.value)}`));
      svg.append(s("text", { x: L + w + 6, y: yy + 16, class: "val" }, texts[k]));
    });
    target.append(svg);
    return items.length;
  }

  /* Vertical stacked bars per label; series [{name, values, color}]. */
  function stacked(target, labels, series, fmt) {
    const totals = labels.map((_, i) => series.reduce((t, x) => t + x.values[i], 0));
    if (!labels.length || !totals.some((v) => v > 0)) return empty(target);
    const W = widthOf(target), H = W < 420 ? 160 : 200, L = 40, R = 8, TOP = 8, B = 24;
    const step = niceStep(Math.max(...totals)), hi = Math.ceil(Math.max(...totals) / step) * step;
    const bw = (W - L - R) / labels.length;
    const y = (v) => TOP + (H - TOP - B) * (1 - v / hi);
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
    for (const v of ticksOf(0, hi, step)) {
      svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e4e7ec" }));
      svg.append(s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, compact(v)));
    }
    let points = 0;
    labels.forEach((lab, i) => {
      let base = 0;
      for (const ser of series) {
        const v = ser.values[i];
        if (v > 0) {
          svg.append(tip(s("rect", { x: L + i * bw + bw * 0.1, y: y(base + v), width: Math.max(bw * 0.8, 0.5), height: y(base) - y(base + v), fill: ser.color, "data-series": ser.name, "data-label": lab, "data-value": v }), `${lab} ${ser.name}: ${fmt(v)}`));
          points++;
        }
        base += v;
      }
    });
    const ticks = labels.length === 1 ? [0] : [0, labels.length - 1];
    for (const i of ticks) svg.append(s("text", { x: L + i * bw + bw / 2, y: H - 6, "text-anchor": labels.length === 1 ? "middle" : i === 0 ? "start" : "end" }, labels[i]));
    target.append(svg, legend(series.map((x) => [x.name, x.color])));
    return points;
  }

  /* Donut with a legend of value and share. */
  function donut(target, items, fmt) {
    items = items.filter((i) => i.value > 0);
    const total = items.reduce((t, i) => t + i.value, 0);
    if (!total) return empty(target);
    const svg = s("svg", { viewBox: "0 0 200 200", role: "img", style: "max-width:220px;margin:auto" });
    let a = -Math.PI / 2;
    items.forEach((it, k) => {
      const frac = it.value / total, color = PALETTE[k % PALETTE.length];
      let node;
      if (frac >= 0.9999) node = s("circle", { cx: 100, cy: 100, r: 70, fill: "none", stroke: color, "stroke-width": 36 });
      else {
        const b = a + frac * 2 * Math.PI, large = frac > 0.5 ? 1 : 0;
        const p = (t) => `${(100 + 70 * Math.cos(t)).toFixed(2)} ${(100 + 70 * Math.sin(t)).toFixed(2)}`;
        node = s("path", { d: `M ${p(a)} A 70 70 0 ${large} 1 ${p(b)}`, fill: "none", stroke: color, "stroke-width": 36 });
        a = b;
      }
      node.setAttribute("data-label", it.label);
      node.setAttribute("data-value", it.value);
      svg.append(tip(node, `${label(it.label)}: ${fmt(it.value)} (${fmtPct((100 * it.value) / total)})`));
    });
    svg.append(s("text", { x: 100, y: 106, "text-anchor": "middle", class: "val", style: "font-size:18px" }, compact(total)));
    target.append(svg, legend(items.map((it, k) => [`${label(it.label)} ${fmt(it.value)} (${fmtPct((100 * it.value) / total)})`, PALETTE[k % PALETTE.length]])));
    return items.length;
  }

  function table(target, cols, rows) {
    const t = el("table");
    t.append(el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { text: c })))));
    const body = el("tbody");
    rows.forEach((r) => body.append(el("tr", {}, ...r.map((v) => el("td", { text: v == null ? "" : String(v) })))));
    t.append(body);
    target.append(el("div", { cls: "scroll" }, t));
    return rows.length;
  }
  function stats(target, items) {
    const box = el("div", { cls: "stats" });
    items.forEach(([name, value]) => box.append(el("div", { cls: "stat", "data-name": name }, el("b", { text: value }), el("small", { text: name }))));
    target.append(box);
  }
  /* Money panels: one facet per currency of the selected websites. */
  function facets(target, draw) {
    const groups = byCurrency(selected());
    let points = 0;
    for (const g of groups) {
      const box = el("div", { cls: "facet", "data-currency": g.currency });
      if (groups.length > 1 || state.website === "all") box.append(el("p", { cls: "facet-title", text: `${g.currency} · ${g.sites.map((x) => x.name).join(", ")}` }));
      target.append(box);
      points += draw(box, g);
    }
    return points;
  }

  /* Names by id: the payload's table of every website (the static file, an admin), else the
     one per website (a scoped token's payload has no table without a website). */
  function namesOf(plain, perWebsite, idCol) {
    if (D[plain]) return Object.fromEntries(D[plain].rows.map((r) => [String(r[0]), r[1]]));
    const t = D[perWebsite];
    if (!t) return {};
    const at = t.cols.indexOf(idCol), site = t.cols.indexOf("website_id"), ids = new Set(selected().map((x) => String(x.id)));
    return Object.fromEntries(t.rows.filter((r) => ids.has(String(r[site]))).map((r) => [String(r[at]), r[at + 1]]));
  }
  /* A ranked list as the widget asks (configuration chart_type): bars (default), a pie or a table. */
  function rankedChart(t, items, fmt, head) {
    if (conf.chart_type === "pie") return donut(t, items, fmt);
    if (conf.chart_type === "table") {
      items = items.filter((i) => i.value !== 0);
      return items.length ? table(t, head, items.map((i) => [i.label, i.text != null ? i.text : fmt(i.value)])) : empty(t);
    }
    return hbars(t, items, fmt);
  }
  /* Series over dates as the widget asks: `line` (or the default `fallback`), `bar` or `table`. */
  function seriesChart(t, labels, series, fmt, fallback) {
    const kind = conf.chart_type || fallback || "line";
    if (kind === "bar") return stacked(t, labels, series, fmt);
    if (kind === "table") return table(t, ["date", ...series.map((x) => x.name)], labels.map((d, i) => [d, ...series.map((x) => fmt(x.values[i]))]));
    return lineChart(t, labels, series, fmt);
  }
  const topN = () => conf.limit || 10;

  /* ---------- metric cards ---------- */
  function delta(cur, prev) {
    if (!prev) return { text: "no previous data", cls: "flat", value: "" };
    const pct = r2((100 * (cur - prev)) / Math.abs(prev));
    return { text: (pct > 0 ? "▲ " : pct < 0 ? "▼ " : "") + fmtPct(Math.abs(pct)) + " vs previous", cls: pct > 0 ? "up" : pct < 0 ? "down" : "flat", value: String(pct) };
  }
  function figure(box, value, text, prev, currency) {
    const d = delta(value, prev);
    const f = el("div", { cls: "figure" },
      el("span", { cls: "value", "data-value": String(r2(value)), text }),
      el("span", { cls: "delta " + d.cls, "data-value": d.value, "data-previous": String(r2(prev)), text: d.text }));
    if (currency) f.setAttribute("data-currency", currency);
    box.append(f);
  }
  function renderCards(root) {
    const list = selected();
    const card = (m) => { const b = root.querySelector(`.card[data-metric="${m}"] .figures`); b.textContent = ""; return b; };
    const rev = card("revenue"), aov = card("aov");
    for (const g of byCurrency(list)) {
      const cur = windowRows("daily", g.sites, false), prev = windowRows("daily", g.sites, true);
      const rc = sum(cur, "gross_revenue"), rp = sum(prev, "gross_revenue");
      const oc = sum(cur, "total_orders"), op = sum(prev, "total_orders");
      figure(rev, rc, fmtMoney(rc, g.currency), rp, g.currency);
      const ac = oc ? rc / oc : 0, ap = op ? rp / op : 0;
      figure(aov, ac, oc ? fmtMoney(ac, g.currency) : "n/a", ap, g.currency);
    }
    const oc = sum(windowRows("daily", list, false), "total_orders"), op = sum(windowRows("daily", list, true), "total_orders");
    figure(card("orders"), oc, fmtInt(oc), op);
    let cc = 0, cp = 0;
    for (const x of list) { const w = figuresOf(x) || {}; cc += w.customers || 0; cp += w.customers_prev || 0; }
    // Distinct customers come from the publish step's window figures; without them, say so.
    figure(card("customers"), cc, D.windows ? fmtInt(cc) : "n/a", cp);
  }

  /* ---------- panels ---------- */
  const CHARTS = {
    revenue_trend: { mart: "daily", draw: (t) => facets(t, (box, g) => {
      const labels = dateAxis(g.sites), rows = windowRows("daily", g.sites, false);
      const gross = sumBy(rows, (r) => r.business_date, "gross_revenue"), coll = sumBy(rows, (r) => r.business_date, "collected_revenue");
      return lineChart(box, labels, [
        { name: "gross revenue", values: labels.map((d) => gross.get(d) || 0), color: PALETTE[0] },
        { name: "collected revenue", values: labels.map((d) => coll.get(d) || 0), color: PALETTE[2], dash: true },
      ], (v) => fmtMoney(v, g.currency));
    }) },
    channels: { mart: "channels", draw: (t) => facets(t, (box, g) => {
      const rows = windowRows("channels", g.sites, false);
      const by = sumBy(rows, (r) => r.channel + "|" + r.kind, "amount");
      const items = [...by.entries()].map(([k, v]) => { const [ch, kind] = k.split("|"); return { label: label(ch), value: v, color: kind === "revenue" ? PALETTE[0] : PALETTE[1] }; }).sort((a, b) => b.value - a.value);
      const n = hbars(box, items, (v) => fmtMoney(v, g.currency));
      if (n) {
        const revenue = sum(rows.filter((r) => r.kind === "revenue"), "amount"), incent = sum(rows.filter((r) => r.kind === "incentive"), "amount");
        box.append(legend([["revenue " + fmtMoney(revenue, g.currency), PALETTE[0]], ["incentives " + fmtMoney(incent, g.currency), PALETTE[1]], ["net " + fmtMoney(revenue - incent, g.currency), "#fff"]]));
      }
      return n;
    }) },
    payments: { mart: "payments", draw: (t) => {
      const by = sumBy(windowRows("payments", selected(), false), (r) => r.payment_method, "order_count");
      return donut(t, [...by.entries()].map(([k, v]) => ({ label: k, value: v })).sort((a, b) => b.value - a.value), fmtInt);
    } },
    statuses: { mart: "statuses", draw: (t) => {
      const by = sumBy(windowRows("statuses", selected(), false), (r) => r.status, "order_count");
      return donut(t, [...by.entries()].map(([k, v]) => ({ label: k, value: v })).sort((a, b) => b.value - a.value), fmtInt);
    } },
    top_items: { mart: "items", draw: (t) => {
      const names = namesOf("meal_names", "website_meal_names", "meal_id");
      const by = sumBy(windowRows("items", selected(), false), (r) => String(r.meal_id), "quantity_sold");
      const top = [...by.entries()].sort((a, b) => b[1] - a[1] || Number(a[0]) - Number(b[0])).slice(0, topN());
      return hbars(t, top.map(([id, v]) => ({ label: names[id] || "meal " + id, value: v })), fmtInt);
    } },
    acquisition: { mart: "daily", draw: (t) => {
      const list = selected(), labels = dateAxis(list), rows = windowRows("daily", list, false);
      const nw = sumBy(rows, (r) => r.business_date, "new_customers"), ret = sumBy(rows, (r) => r.business_date, "returning_customers");
      // New: first counted order in the window (each is new on one day: the new bars add up
      // to them). Returning: distinct customers who ordered in the window on a day after their
      // first order day (the people behind the returning bars, each counted once). The share
      // is the bars': new among the daily customers of the window.
      const totalNew = sum(rows, "new_customers"), dayReturning = sum(rows, "returning_customers");
      let returning = 0, known = true;
      for (const x of list) {
        const w = figuresOf(x) || {};
        if (w.returning == null) known = false; else returning += w.returning;
      }
      stats(t, [["new customers", fmtInt(totalNew)], ["returning customers", known ? fmtInt(returning) : "n/a"],
        ["new share of daily customers", totalNew + dayReturning ? fmtPct((100 * totalNew) / (totalNew + dayReturning)) : "n/a"]]);
      const before = list.filter((x) => x.first_date && windowOf(x).start < x.first_date);
      if (before.length) t.append(el("p", { cls: "note", "data-name": "coverage", text: `The window starts before the data: ${before.map((x) => `${x.name} from ${x.first_date}`).join(", ")} (its first order); every customer of the data is new in it.` }));
      return stacked(t, labels, [
        { name: "new", values: labels.map((d) => nw.get(d) || 0), color: PALETTE[1] },
        { name: "returning", values: labels.map((d) => ret.get(d) || 0), color: PALETTE[0] },
      ], fmtInt);
    } },
    discounts: { mart: "discounts", draw: (t) => facets(t, (box, g) => {
      const rows = windowRows("discounts", g.sites, false);
      const gross = sum(windowRows("daily", g.sites, false), "gross_revenue");
      const by = sumBy(rows, (r) => r.discount_type, "discount_total");
      const items = [...by.entries()].map(([k, v]) => ({ label: label(k), value: v, text: fmtMoney(v, g.currency) + (gross ? ` (${fmtPct((100 * v) / gross)})` : "") })).sort((a, b) => b.value - a.value);
      return hbars(box, items, (v) => fmtMoney(v, g.currency));
    }) },
    vip_tiers: { mart: "vip_tiers", draw: (t) => {
      const rows = forSites("vip_tiers", selected());
      const by = sumBy(rows, (r) => r.vip_tier, "customers");
      const none = by.get("none") || 0;
      by.delete("none");
      const shares = T("vip_revenue") ? byCurrency(selected()).map((g) => {
        const rows = windowRows("vip_revenue", g.sites, false), gross = sum(rows, "gross_revenue");
        return [`VIP share of revenue (${g.currency}, window)`, gross ? fmtPct(r2((100 * sum(rows, "vip_revenue")) / gross)) : "n/a"];
      }) : [];
      stats(t, [["VIP customers", fmtInt([...by.values()].reduce((a, b) => a + b, 0))], ["without a VIP tier", fmtInt(none)], ...shares]);
      return hbars(t, [...by.entries()].sort((a, b) => b[1] - a[1]).map(([k, v], i) => ({ label: label(k), value: v, color: PALETTE[(i + 3) % PALETTE.length] })), fmtInt) || (none ? 1 : 0);
    } },
    /* Bands are the seed's per currency (ltv_segments): one facet per currency, its bands in
       the seed's sort_order (low to high), never alphabetical. */
    ltv: { mart: "ltv_segments", draw: (t) => facets(t, (box, g) => {
      const rows = forSites("ltv_segments", g.sites);
      const by = sumBy(rows, (r) => r.ltv_segment, "customers");
      const rank = new Map();
      for (const r of rows) rank.set(r.ltv_segment, r.ltv_segment_order == null ? 99 : r.ltv_segment_order);
      const keys = [...by.keys()].sort((a, b) => rank.get(a) - rank.get(b) || (a < b ? -1 : 1));
      return hbars(box, keys.map((k) => ({ label: k, value: by.get(k), color: PALETTE[(rank.get(k) - 1 + PALETTE.length) % PALETTE.length] })), fmtInt);
    }) },
    churn: { mart: "rates", draw: (t) => {
      const list = selected(), rates = forSites("rates", list);
      const ordering = sum(rates, "ordering_customers"), risk = sum(rates, "at_risk_customers"), repeat = sum(rates, "repeat_customers");
      stats(t, [["customers at risk", fmtInt(risk)], ["churn rate", ordering ? fmtPct(r2((100 * risk) / ordering)) : "n/a"], ["repeat purchase rate", ordering ? fmtPct(r2((100 * repeat) / ordering)) : "n/a"], ["ordering customers", fmtInt(ordering)]]);
      const rows = forSites("churn_list", list).sort((a, b) => b.lifetime_value - a.lifetime_value).slice(0, 10);
      const n = rows.length ? table(t, ["customer id", "website", "days since last order", "delivered orders", "lifetime value", "segment", "VIP tier"],
        rows.map((r) => { const site = siteById[String(r.website_id)]; return [r.user_id, site.name, r.days_since_last_order, r.total_orders, fmtMoney(r.lifetime_value, site.currency), r.ltv_segment, r.vip_tier]; }))
        : (t.append(el("p", { cls: "empty", text: "No customer at risk." })), 0);
      return Math.max(n, rates.length);
    } },
    cohorts: { mart: "cohorts", draw: (t) => {
      const rows = forSites("cohorts", selected());
      if (!rows.length) return empty(t);
      const size = new Map(), active = new Map(), partial = new Map();
      let maxK = 0;
      for (const r of rows) {
        const key = r.cohort_month + "|" + r.month_number;
        size.set(r.cohort_month, (size.get(r.cohort_month) || 0) + (r.month_number === 0 ? r.cohort_size : 0));
        active.set(key, (active.get(key) || 0) + r.active_customers);
        // A cell is partial when it is for any selected website (their as_of can differ).
        if (r.is_partial_month) partial.set(key, true);
        maxK = Math.max(maxK, r.month_number);
      }
      const months = [...size.keys()].sort();
      const tbl = el("table", { cls: "heat" });
      tbl.append(el("thead", {}, el("tr", {}, el("th", { text: "cohort" }), el("th", { text: "size" }), ...Array.from({ length: maxK + 1 }, (_, k) => el("th", { text: "M" + k })))));
      const body = el("tbody");
      let cells = 0;
      for (const m of months) {
        const tr = el("tr", {}, el("td", { text: m.slice(0, 7) }), el("td", { text: fmtInt(size.get(m)) }));
        for (let k = 0; k <= maxK; k++) {
          const a = active.get(m + "|" + k);
          if (a == null || !size.get(m)) { tr.append(el("td")); continue; }
          const pct = (100 * a) / size.get(m), part = partial.get(m + "|" + k);
          const shade = `rgba(46,107,209,${(0.08 + 0.85 * pct / 100).toFixed(2)})`;
          const cell = el("td", { style: part ? `background:repeating-linear-gradient(135deg,${shade} 0 4px,#fff 4px 7px)` : `background:${shade};color:${pct > 55 ? "#fff" : "inherit"}`,
            title: `${a} of ${size.get(m)}` + (part ? " (month not complete at as_of: its first days only)" : ""), text: pct.toFixed(0) + "%" + (part ? "*" : ""), "data-label": `${m} M${k}`, "data-value": a, "data-of": size.get(m) });
          if (part) { cell.classList.add("partial"); cell.dataset.partial = "1"; }
          tr.append(cell);
          cells++;
        }
        body.append(tr);
      }
      tbl.append(body);
      t.append(el("div", { cls: "scroll" }, tbl));
      if (partial.size) t.append(el("p", { cls: "note", "data-name": "partial", text: "* Hatched: the month as_of falls in, not complete yet: its rate counts only the days up to as_of, so it is no retention drop." }));
      return cells;
    } },
    points: { mart: "points", draw: (t) => {
      const list = selected(), labels = dateAxis(list), rows = windowRows("points", list, false);
      const at = (c) => { const m = sumBy(rows, (r) => r.business_date, c); return labels.map((d) => m.get(d) || 0); };
      const last = lastRows("points", list);
      stats(t, [["points issued", fmtInt(sum(rows, "points_issued"))], ["points redeemed", fmtInt(sum(rows, "points_redeemed"))], ["balance " + atEnd(), fmtInt(sum(last, "points_balance"))], ["active clients", fmtInt(sum(last, "active_clients"))]]);
      if (conf.chart_type === "metric") return 4;
      return seriesChart(t, labels, [
        { name: "issued", values: at("points_issued"), color: PALETTE[2] },
        { name: "redeemed", values: at("points_redeemed"), color: PALETTE[1] },
        { name: "expired", values: at("points_expired"), color: PALETTE[4], dash: true },
      ], fmtInt);
    } },
    loyalty_tiers: { mart: "loyalty_tiers", draw: (t) => {
      const rows = forSites("loyalty_tiers", selected());
      const by = sumBy(rows, (r) => r.tier_rank + "|" + r.tier + "|" + r.threshold, "active_clients");
      const total = [...by.values()].reduce((a, b) => a + b, 0);
      const items = [...by.entries()].sort((a, b) => parseInt(a[0]) - parseInt(b[0])).map(([k, v], i) => {
        const [, tier, threshold] = k.split("|");
        return { label: `${tier[0].toUpperCase() + tier.slice(1)} (${fmtInt(Number(threshold))}+)`, value: v, color: ["#b87333", "#9ca3af", "#d4a017", "#5b6b8c"][i % 4], text: `${fmtInt(v)} · ${total ? fmtPct(r2((100 * v) / total)) : "n/a"}` };
      });
      return rankedChart(t, items, fmtInt, ["tier", "active clients"]);
    } },
    top_redemptions: { mart: "redemptions", draw: (t) => {
      const names = namesOf("redemption_item_names", "website_redemption_item_names", "redemption_item_id");
      const by = sumBy(windowRows("redemptions", selected(), false), (r) => String(r.redemption_item_id), "redemption_count");
      const top = [...by.entries()].sort((a, b) => b[1] - a[1] || Number(a[0]) - Number(b[0])).slice(0, topN());
      return rankedChart(t, top.map(([id, v]) => ({ label: names[id] || "item " + id, value: v, color: PALETTE[3] })), fmtInt, ["item", "redemptions"]);
    } },
    /* ---------- request 003's widgets with no static panel (the live page's) ---------- */
    redemptions_trend: { mart: "redemptions", draw: (t) => {
      const list = selected(), labels = dateAxis(list), rows = windowRows("redemptions", list, false);
      const count = sum(rows, "redemption_count"), by = sumBy(rows, (r) => r.business_date, "redemption_count");
      stats(t, [["redemptions", fmtInt(count)], ["points spent", fmtInt(sum(rows, "points_spent"))], ["per day (avg)", String(r2(count / labels.length))]]);
      if (conf.chart_type === "metric") return 3;
      return seriesChart(t, labels, [{ name: "redemptions", values: labels.map((d) => by.get(d) || 0), color: PALETTE[3] }], fmtInt, "bar");
    } },
    points_balance: { mart: "points", draw: (t) => {
      const list = selected(), labels = dateAxis(list), rows = windowRows("points", list, false), last = lastRows("points", list);
      const balance = sum(last, "points_balance"), active = sum(last, "active_clients");
      stats(t, [["balance " + atEnd(), fmtInt(balance)], ["active clients", fmtInt(active)], ["average per active client", active ? String(r2(balance / active)) : "n/a"]]);
      if (!conf.chart_type || conf.chart_type === "metric") return 3;
      const by = sumBy(rows, (r) => r.business_date, "points_balance");
      return seriesChart(t, labels, [{ name: "balance", values: labels.map((d) => by.get(d) || 0), color: PALETTE[2] }], fmtInt);
    } },
    wallet_conversion: { mart: "wallet", draw: (t) => facets(t, (box, g) => {
      const labels = dateAxis(g.sites), rows = windowRows("wallet", g.sites, false), c = ` (${g.currency})`;
      const points = sum(rows, "points_spent"), redeemed = sum(windowRows("points", g.sites, false), "points_redeemed");
      stats(box, [["conversions" + c, fmtInt(sum(rows, "redemption_count"))], ["points converted" + c, fmtInt(points)], ["wallet credit" + c, fmtMoney(sum(rows, "value_amount"), g.currency)], ["share of points redeemed" + c, pctOf(points, redeemed)]]);
      if (conf.chart_type === "metric") return 4;
      const by = sumBy(rows, (r) => r.business_date, "value_amount");
      return seriesChart(box, labels, [{ name: "wallet credit", values: labels.map((d) => by.get(d) || 0), color: PALETTE[5] }], (v) => fmtMoney(v, g.currency));
    }) },
    redemption_insights: { mart: "redemption_categories", draw: (t) => {
      const list = selected(), rows = windowRows("redemption_categories", list, false);
      const count = sum(rows, "redemption_count");
      const facts = [["redemptions", fmtInt(count)], ["points per redemption (avg)", count ? String(r2(sum(rows, "points_spent") / count)) : "n/a"]];
      if (T("redemption_patterns")) {
        const pat = windowRows("redemption_patterns", list, false);
        const best = (m) => [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
        const day = best(sumBy(pat, (r) => r.local_weekday_name, "redemption_count")), hour = best(sumBy(pat, (r) => r.local_hour, "redemption_count"));
        if (day) facts.push(["busiest weekday", day[0]], ["busiest hour (local)", String(hour[0]).padStart(2, "0") + ":00"]);
      }
      if (T("wallet")) {
        for (const g of byCurrency(list)) {
          const w = windowRows("wallet", g.sites, false);
          facts.push([`to wallet (${g.currency}): ${fmtInt(sum(w, "redemption_count"))} conversions`, fmtMoney(sum(w, "value_amount"), g.currency)]);
        }
      }
      stats(t, facts);
      const by = sumBy(rows, (r) => r.category, "redemption_count");
      return hbars(t, [...by.entries()].sort((a, b) => b[1] - a[1]).map(([k, v], i) => ({ label: label(k), value: v, color: PALETTE[(i + 6) % PALETTE.length] })), fmtInt);
    } },
    engagement: { mart: "windows", draw: (t) => {
      const list = selected();
      const e = { total_clients: 0, active_clients: 0, clients_with_redemptions: 0, clients_with_transactions: 0 };
      let found = false;
      for (const x of list) {
        const w = (figuresOf(x) || {}).engagement;
        if (w) { found = true; for (const k in e) e[k] += w[k] || 0; }
      }
      const rates = forSites("rates", list);
      const ordering = sum(rates, "ordering_customers");
      const items = [];
      if (found) {
        items.push({ label: "loyalty engagement", value: e.total_clients ? r2((100 * e.clients_with_transactions) / e.total_clients) : 0 });
        items.push({ label: "redemption rate", value: e.active_clients ? r2((100 * e.clients_with_redemptions) / e.active_clients) : 0 });
      }
      if (rates.length && ordering) {
        items.push({ label: "repeat purchase", value: r2((100 * sum(rates, "repeat_customers")) / ordering) });
        items.push({ label: "churn", value: r2((100 * sum(rates, "at_risk_customers")) / ordering) });
      }
      if (found) stats(t, [["loyalty clients", fmtInt(e.total_clients)], ["with ledger activity", fmtInt(e.clients_with_transactions)], ["with redemptions", fmtInt(e.clients_with_redemptions)]]);
      if (conf.chart_type === "metric") { stats(t, items.map((x) => [x.label, fmtPct(x.value)])); return items.length; }
      return rankedChart(t, items.map((x, i) => ({ ...x, color: PALETTE[(i + 5) % PALETTE.length] })), fmtPct, ["rate", "%"]);
    } },
    campaigns: { mart: "campaigns", draw: (t) => {
      const rows = forSites("campaigns", selected());
      if (!rows.length) return empty(t, "No campaign for this website.");
      const name = (r) => r.campaign_name || r.name || "campaign " + r.campaign_id;
      let n = hbars(t, rows.filter((r) => r.roi != null).sort((a, b) => b.roi - a.roi).map((r) => ({ label: name(r), value: Number(r.roi), color: Number(r.roi) >= 0 ? PALETTE[2] : PALETTE[4], text: fmtPct(Number(r.roi)) + " ROI" })), fmtPct);
      n += table(t, ["campaign", "currency", "orders", "revenue", "cost", "reached", "conversion", "ROI", "budget used"], rows.map((r) => {
        const cur = (siteById[String(r.website_id)] || {}).currency || "";
        return [name(r), cur, r.orders_influenced, r.revenue_generated != null ? fmtMoney(r.revenue_generated, cur) : "", r.campaign_cost != null ? fmtMoney(r.campaign_cost, cur) : "", r.customers_reached, fmtPct(r.conversion_rate), fmtPct(r.roi), fmtPct(r.budget_used)];
      }));
      // The incremental effect (treated vs control, by response) and the over-budget flag,
      // once fct_campaign_performance carries them.
      if (rows.some((r) => "incremental_revenue" in r || "is_over_budget" in r)) {
        t.append(el("p", { cls: "facet-title", text: "True effect: treated vs control recipients (any counted order in their window, with or without the code)" }));
        n += table(t, ["campaign", "treated response", "control response", "incremental orders", "incremental revenue", "incremental ROI", "budget"], rows.map((r) => {
          const cur = (siteById[String(r.website_id)] || {}).currency || "";
          return [name(r), fmtPct(r.treated_response_rate), fmtPct(r.control_response_rate), r.incremental_orders == null ? "n/a" : String(r2(Number(r.incremental_orders))),
            r.incremental_revenue == null ? "n/a" : fmtMoney(Number(r.incremental_revenue), cur), fmtPct(r.incremental_roi), r.is_over_budget ? "⚠ over budget (" + fmtPct(r.budget_used) + ")" : r.budget_used == null ? "no budget" : "within (" + fmtPct(r.budget_used) + ")"];
        }));
      }
      const variants = T("campaign_variants");
      if (variants) {
        const ids = new Set(rows.map((r) => String(r.campaign_id)));
        const vs = variants.filter((v) => ids.has(String(v.campaign_id)));
        if (vs.length) {
          t.append(el("p", { cls: "facet-title", text: "A/B variants" }));
          const names = Object.fromEntries(rows.map((r) => [String(r.campaign_id), name(r)]));
          const cols = Object.keys(vs[0]).filter((c) => c !== "website_id" && c !== "campaign_id");
          const cell = (v) => (typeof v === "number" && !Number.isInteger(v) ? (Math.abs(v) < 0.01 && v !== 0 ? v.toExponential(2) : r2(v)) : v);
          n += table(t, ["campaign", ...cols.map(label)], vs.map((v) => [names[String(v.campaign_id)], ...cols.map((c) => cell(v[c]))]));
        }
      }
      return n;
    } },
    deliveries: { mart: "deliveries", draw: (t) => {
      const list = selected(), labels = dateAxis(list), rows = windowRows("deliveries", list, false);
      const delivered = sum(rows, "delivered_deliveries");
      stats(t, [["deliveries", fmtInt(sum(rows, "deliveries"))], ["failed", fmtInt(sum(rows, "failed_deliveries"))],
        ["on time (≤ 45 min)", delivered ? fmtPct(r2((100 * sum(rows, "on_time_deliveries")) / delivered)) : "n/a"],
        ["average minutes", delivered ? String(r2(sum(rows, "delivery_minutes_total") / delivered)) : "n/a"]]);
      if (list.length > 1) t.append(el("p", { cls: "note", text: "Median and p90 per website and day (percentiles do not add up across websites)." }));
      const series = [];
      list.forEach((x, i) => {
        const mine = rows.filter((r) => String(r.website_id) === String(x.id));
        for (const [col, nm, dash] of [["median_delivery_minutes", "median", false], ["p90_delivery_minutes", "p90", true]]) {
          const m = new Map(mine.filter((r) => r[col] != null).map((r) => [r.business_date, r[col]]));
          series.push({ name: (list.length > 1 ? x.name + " " : "") + nm + " minutes", values: labels.map((d) => m.get(d) || 0), color: PALETTE[(2 * i + (dash ? 1 : 0)) % PALETTE.length], dash });
        }
      });
      return lineChart(t, labels, series, (v) => r2(v) + " min");
    } },
    operations: { mart: "support", draw: (t) => {
      const list = selected(), rows = windowRows("support", list, false), cons = windowRows("consultations", list, false);
      const responses = sum(rows, "first_responses"), resolved = sum(rows, "tickets_resolved");
      stats(t, [["first response (h, avg)", responses ? String(r2(sum(rows, "first_response_hours_total") / responses)) : "n/a"],
        ["resolution (h, avg)", resolved ? String(r2(sum(rows, "resolution_hours_total") / resolved)) : "n/a"]]);
      const items = [
        { label: "tickets opened", value: sum(rows, "tickets_opened"), color: PALETTE[0] },
        { label: "tickets resolved", value: resolved, color: PALETTE[2] },
        { label: "consultations booked", value: sum(cons, "booked"), color: PALETTE[3] },
        { label: "consultations completed", value: sum(cons, "completed"), color: PALETTE[5] },
        { label: "consultation no-shows", value: sum(cons, "no_show"), color: PALETTE[4] },
      ];
      return hbars(t, items, fmtInt);
    } },
    /* ---------- issue 17's views (each absent until its mart is built) ---------- */
    reconciliation: { mart: "reconciliation", draw: (t) => facets(t, (box, g) => {
      const labels = dateAxis(g.sites), rows = windowRows("reconciliation", g.sites, false);
      const last = lastRows("reconciliation", g.sites), fm = (v) => fmtMoney(v, g.currency);
      const c = ` (${g.currency})`;
      stats(box, [["gross revenue" + c, fm(sum(rows, "gross_revenue"))], ["collected revenue" + c, fm(sum(rows, "collected_revenue"))],
        ["refunds" + c, fm(sum(rows, "refunds"))], ["receivables " + atEnd() + c, last.length ? fm(sum(last, "receivables")) : "n/a"]]);
      const at = (c) => { const m = sumBy(rows, (r) => r.business_date, c); return labels.map((d) => m.get(d) || 0); };
      return lineChart(box, labels, [
        { name: "gross revenue", values: at("gross_revenue"), color: PALETTE[0] },
        { name: "collected revenue", values: at("collected_revenue"), color: PALETTE[2], dash: true },
        { name: "receivables", values: at("receivables"), color: PALETTE[1] },
      ], fm);
    }) },
    payment_health: { mart: "payment_health", draw: (t) => {
      const list = selected(), rows = windowRows("payment_health", list, false);
      const done = sum(rows, "completed"), failed = sum(rows, "failed");
      const facts = [["attempts", fmtInt(sum(rows, "attempts"))], ["success rate", pctOf(done, done + failed)], ["failed", fmtInt(failed)], ["pending", fmtInt(sum(rows, "pending"))], ["retries", fmtInt(sum(rows, "retries"))]];
      for (const g of byCurrency(list)) facts.push([`failed amount (${g.currency})`, fmtMoney(sum(windowRows("payment_health", g.sites, false), "amount_failed"), g.currency)]);
      stats(t, facts);
      const by = new Map();
      for (const r of rows) { const b = by.get(r.method) || { c: 0, f: 0 }; b.c += Number(r.completed || 0); b.f += Number(r.failed || 0); by.set(r.method, b); }
      // Success rate per method: completed / (completed + failed), pending left out.
      const items = [...by.entries()].filter(([, b]) => b.c + b.f > 0).map(([m, b]) => ({ label: label(m), value: r2((100 * b.c) / (b.c + b.f)), color: PALETTE[2], text: `${fmtPct(r2((100 * b.c) / (b.c + b.f)))} of ${fmtInt(b.c + b.f)}` })).sort((a, b) => a.value - b.value);
      return hbars(t, items, fmtPct);
    } },
    subscriptions: { mart: "subscriptions", draw: (t) => facets(t, (box, g) => {
      const labels = dateAxis(g.sites), rows = windowRows("subscriptions", g.sites, false), last = lastRows("subscriptions", g.sites);
      const fm = (v) => fmtMoney(v, g.currency);
      const c = ` (${g.currency})`;
      stats(box, [["MRR " + atEnd() + c, last.length ? fm(sum(last, "mrr")) : "n/a"], ["active subscriptions" + c, fmtInt(sum(last, "active_subscriptions"))], ["subscribers" + c, fmtInt(sum(last, "active_subscribers"))]]);
      const mrr = sumBy(rows, (r) => r.business_date, "mrr");
      let n = lineChart(box, labels, [{ name: "MRR", values: labels.map((d) => mrr.get(d) || 0), color: PALETTE[3] }], fm);
      const plans = forSites("subscription_plans", g.sites);
      if (plans.length) {
        box.append(el("p", { cls: "facet-title", text: "Plan mix at as_of (MRR)" }));
        const by = sumBy(plans, (r) => (r.plan_name || "plan " + r.plan_id) + (r.billing_interval ? ` (${r.billing_interval})` : ""), "mrr");
        n += hbars(box, [...by.entries()].sort((a, b) => b[1] - a[1]).map(([k, v], i) => ({ label: k, value: v, color: PALETTE[(i + 3) % PALETTE.length] })), fm);
      }
      return n;
    }) },
    mrr_movements: { mart: "mrr_movements", draw: (t) => facets(t, (box, g) => {
      const rows = monthRows("mrr_movements", g.sites), fm = (v) => v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      const months = [...new Set(rows.map((r) => r.month))].sort();
      if (!months.length) return empty(box);
      const at = (m, c) => sum(rows.filter((r) => r.month === m), c);
      // opening + new + reactivation + expansion - contraction + churned (<= 0) = closing.
      const n = table(box, ["month", "opening", "new", "reactivation", "expansion", "contraction (−)", "churned", "closing", "subscribers churned", "revenue churn"], months.map((m) => {
        const mine = rows.filter((r) => r.month === m), opening = at(m, "opening_mrr");
        const rev = opening ? fmtPct(r2((100 * -at(m, "churned_mrr")) / opening) || 0) : "n/a";
        return [m.slice(0, 7) + (m === months[months.length - 1] && g.sites.some((x) => x.as_of.slice(0, 7) === m.slice(0, 7)) ? " (to date)" : ""), fm(opening), fm(at(m, "new_mrr")), fm(at(m, "reactivation_mrr")), fm(at(m, "expansion_mrr")), fm(at(m, "contraction_mrr")), fm(at(m, "churned_mrr")), fm(at(m, "closing_mrr")), fmtInt(sum(mine, "subscribers_churned")), rev];
      }));
      box.append(el("p", { cls: "note", text: `${g.currency}; opening + new + reactivation + expansion − contraction + churned = closing.` }));
      return n;
    }) },
    campaign_course: { mart: "campaign_days", draw: (t) => {
      const list = selected(), rows = windowRows("campaign_days", list, false);
      if (!rows.length) return empty(t, "No campaign ran in this window.");
      const names = Object.fromEntries((T("campaigns") || []).map((r) => [String(r.campaign_id), r.campaign_name || "campaign " + r.campaign_id]));
      const ids = [...new Set(rows.map((r) => String(r.campaign_id)))];
      // Budget used to date (cumulative) at the end of the window; past 100 % is over budget.
      const ends = ids.map((id) => rows.filter((r) => String(r.campaign_id) === id).pop());
      let n = hbars(t, ends.filter((r) => r.budget_used != null).sort((a, b) => b.budget_used - a.budget_used).map((r) => ({ label: names[String(r.campaign_id)] || "campaign " + r.campaign_id, value: Number(r.budget_used), color: Number(r.budget_used) > 100 ? PALETTE[4] : PALETTE[2], text: fmtPct(Number(r.budget_used)) + " of budget" })), fmtPct);
      const over = ids.filter((id) => rows.some((r) => String(r.campaign_id) === id && r.is_over_budget));
      n += table(t, ["campaign", "days", "orders", "revenue", "cost", "recipients sent", "budget used (end of window)", "over budget"], ids.map((id) => {
        const mine = rows.filter((r) => String(r.campaign_id) === id), end = mine[mine.length - 1];
        const cur = (siteById[String(end.website_id)] || {}).currency || "";
        return [names[id] || "campaign " + id, mine.length, fmtInt(sum(mine, "orders_influenced")), fmtMoney(sum(mine, "revenue_generated"), cur), fmtMoney(sum(mine, "campaign_cost"), cur), fmtInt(sum(mine, "recipients_sent")), fmtPct(end.budget_used), over.includes(id) ? "⚠ yes" : "no"];
      }));
      return n;
    } },
    campaign_channels: { mart: "campaign_channels", draw: (t) => {
      const rows = forSites("campaign_channels", selected());
      const by = new Map();
      for (const r of rows) { const k = r.channel == null ? "unknown" : r.channel, b = by.get(k) || { s: 0, o: 0, c: 0 }; b.s += Number(r.sent || 0); b.o += Number(r.opened || 0); b.c += Number(r.clicked || 0); by.set(k, b); }
      const chans = [...by.keys()].sort();
      if (!chans.length) return empty(t, "No campaign message sent.");
      const series = [["sent", "s", PALETTE[0]], ["opened", "o", PALETTE[5]], ["clicked", "c", PALETTE[2]]];
      let n = hbars(t, chans.flatMap((c) => series.map(([nm, k, color]) => ({ label: `${c} ${nm}`, value: by.get(c)[k], color }))), fmtInt);
      n += table(t, ["channel", "sent", "opened", "clicked", "open rate", "click rate"], chans.map((c) => { const b = by.get(c); return [c, fmtInt(b.s), fmtInt(b.o), fmtInt(b.c), pctOf(b.o, b.s), pctOf(b.c, b.s)]; }));
      return n;
    } },
    referrals: { mart: "referral_funnel", draw: (t) => facets(t, (box, g) => {
      const rows = monthRows("referral_funnel", g.sites);
      const created = sum(rows, "referrals_created"), qualified = sum(rows, "qualified"), rewarded = sum(rows, "rewarded");
      const c = ` (${g.currency})`;
      stats(box, [["qualification rate" + c, pctOf(qualified, created)], ["reward rate" + c, pctOf(rewarded, created)], ["bonuses" + c, fmtMoney(sum(rows, "bonus_amount"), g.currency)],
        ["referee orders (90 days)" + c, fmtInt(sum(rows, "referee_orders_90d"))], ["referee revenue (90 days)" + c, fmtMoney(sum(rows, "referee_revenue_90d"), g.currency)]]);
      return hbars(box, [{ label: "referrals made", value: created, color: PALETTE[0] }, { label: "qualified", value: qualified, color: PALETTE[5] }, { label: "rewarded", value: rewarded, color: PALETTE[2] }], fmtInt);
    }) },
    kitchen: { mart: "kitchen", draw: (t) => {
      const list = selected(), labels = dateAxis(list), rows = windowRows("kitchen", list, false);
      const prepared = sum(rows, "orders_prepared");
      stats(t, [["orders prepared", fmtInt(prepared)], ["within 20 min", "prepared_within_20_min" in (rows[0] || {}) ? pctOf(sum(rows, "prepared_within_20_min"), prepared) : "n/a"]]);
      const series = [];
      list.forEach((x, i) => {
        const mine = rows.filter((r) => String(r.website_id) === String(x.id));
        for (const [col, nm, dash] of [["median_prep_minutes", "median", false], ["p90_prep_minutes", "p90", true]]) {
          const m = new Map(mine.filter((r) => r[col] != null).map((r) => [r.business_date, Number(r[col])]));
          series.push({ name: (list.length > 1 ? x.name + " " : "") + nm + " prep minutes", values: labels.map((d) => m.get(d) || 0), color: PALETTE[(2 * i + (dash ? 1 : 0) + 4) % PALETTE.length], dash });
        }
      });
      let n = lineChart(t, labels, series, (v) => r2(v) + " min");
      const hours = forSites("kitchen_hours", list).filter((r) => r.period === keyOf(current()));
      if (hours.length) {
        t.append(el("p", { cls: "facet-title", text: "Orders prepared by hour of confirmation (local)" }));
        const by = sumBy(hours, (r) => r.local_hour, "orders_prepared"), hs = Array.from({ length: 24 }, (_, h) => h);
        n += stacked(t, hs.map((h) => String(h).padStart(2, "0") + ":00"), [{ name: "orders prepared", values: hs.map((h) => by.get(h) || 0), color: PALETTE[6] }], fmtInt);
      }
      return n;
    } },
    staff: { mart: "riders", draw: (t) => {
      const list = selected();
      const month = [...new Set(list.map((x) => windowOf(x).end.slice(0, 7)))].join(" / ");
      t.append(el("p", { cls: "note", text: `Month of ${current().to ? "the window's end" : "as_of"} (${month}, to date); medians per person and month.` }));
      const site = (r) => (siteById[String(r.website_id)] || {}).name || "";
      const byName = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
      const riders = asOfMonthRows("riders", list).sort((a, b) => b.deliveries - a.deliveries || byName(a.rider_name, b.rider_name) || a.website_id - b.website_id);
      t.append(el("p", { cls: "facet-title", text: "Riders" }));
      let n = riders.length ? table(t, ["rider", "website", "deliveries", "failed", "failure rate", "median min", "p90 min", "on time"], riders.map((r) => [r.rider_name, site(r), fmtInt(r.deliveries), fmtInt(r.failed || 0), fmtPct(r.failure_rate), cellOf(r.median_minutes, r2), cellOf(r.p90_minutes, r2), fmtPct(r.on_time_rate)])) : (empty(t, "No delivery this month."), 0);
      if (T("nutritionists")) {
        const rows = asOfMonthRows("nutritionists", list).sort((a, b) => byName(a.nutritionist_name, b.nutritionist_name) || a.website_id - b.website_id);
        t.append(el("p", { cls: "facet-title", text: "Nutritionists" }));
        n += rows.length ? table(t, ["nutritionist", "website", "booked", "completed", "cancelled", "no-shows", "no-show rate", "fees", "upcoming"], rows.map((r) => [r.nutritionist_name, site(r), fmtInt(r.booked || 0), fmtInt(r.completed || 0), fmtInt(r.cancelled || 0), fmtInt(r.no_show || 0), fmtPct(r.no_show_rate), r.completed_fees == null ? "n/a" : fmtMoney(Number(r.completed_fees), (siteById[String(r.website_id)] || {}).currency || ""), fmtInt(r.upcoming || 0)])) : (empty(t, "No consultation this month."), 0);
      }
      if (T("agents")) {
        const rows = asOfMonthRows("agents", list).sort((a, b) => b.tickets - a.tickets || byName(String(a.assigned_agent), String(b.assigned_agent)) || a.website_id - b.website_id);
        t.append(el("p", { cls: "facet-title", text: "Support agents" }));
        n += rows.length ? table(t, ["agent", "website", "tickets", "resolved", "median first response (h)", "median resolution (h)"], rows.map((r) => [r.assigned_agent == null ? "(unassigned)" : r.assigned_agent, site(r), fmtInt(r.tickets), fmtInt(r.resolved || 0), cellOf(r.median_first_response_hours, r2), cellOf(r.median_resolution_hours, r2)])) : (empty(t, "No ticket this month."), 0);
      }
      return n;
    } },
    health_goals: { mart: "health_goals", draw: (t) => {
      const list = selected(), rows = forSites("health_goals", list);
      const by = sumBy(rows, (r) => r.dietary_goal, "customers"), ordering = sumBy(rows, (r) => r.dietary_goal, "customers_with_delivered_order");
      const goals = [...by.keys()].sort((a, b) => by.get(b) - by.get(a) || (a < b ? -1 : 1));
      let n = hbars(t, goals.map((k, i) => ({ label: label(k), value: by.get(k), color: PALETTE[(i + 2) % PALETTE.length], text: `${fmtInt(by.get(k))} (${fmtInt(ordering.get(k) || 0)} ordering)` })), fmtInt);
      for (const g of byCurrency(list)) {
        const mine = forSites("health_goals", g.sites), rev = sumBy(mine, (r) => r.dietary_goal, "revenue"), orders = sumBy(mine, (r) => r.dietary_goal, "delivered_orders");
        const facet = el("div", { cls: "facet", "data-currency": g.currency });
        facet.append(el("p", { cls: "facet-title", text: `Delivered orders and revenue (${g.currency})` }));
        t.append(facet);
        n += table(facet, ["goal", "delivered orders", "revenue"], [...rev.keys()].sort().map((k) => [label(k), fmtInt(orders.get(k) || 0), fmtMoney(rev.get(k), g.currency)]));
      }
      return n;
    } },
    recent_orders: { mart: "recent_orders", draw: (t) => {
      // Latest first by local time (to the minute), then the higher order id.
      const list = selected(), rows = forSites("recent_orders", list).sort((a, b) => (a.local_time < b.local_time ? 1 : a.local_time > b.local_time ? -1 : b.order_id - a.order_id)).slice(0, 20);
      if (!rows.length) return empty(t, "No order yet.");
      return table(t, ["order", "website", "placed (local)", "status", "channel", "total", "payment", "payment status", "items"], rows.map((r) => {
        const x = siteById[String(r.website_id)] || {};
        return [r.order_id, x.name || "", r.local_time || r.business_date, r.status, r.channel, r.total == null ? "" : fmtMoney(Number(r.total), x.currency || ""), r.payment_method == null ? "" : label(r.payment_method), r.payment_status || "", r.item_count == null ? "" : fmtInt(r.item_count)];
      }));
    } },
    vip_tier_revenue: { mart: "vip_tier_revenue", draw: (t) => facets(t, (box, g) => {
      const rows = windowRows("vip_tier_revenue", g.sites, false), total = sum(rows, "gross_revenue");
      const rank = new Map(rows.map((r) => [r.tier, r.tier_rank == null ? 99 : r.tier_rank]));
      const by = sumBy(rows, (r) => r.tier, "gross_revenue");
      // Tier held at order time (upgrade history), in tier order; the share is of the window's gross.
      const tiers = [...by.keys()].sort((a, b) => rank.get(a) - rank.get(b) || (a < b ? -1 : 1));
      return hbars(box, tiers.map((k, i) => ({ label: label(k), value: by.get(k), color: PALETTE[(i + 3) % PALETTE.length], text: pctOf(by.get(k), total) })), (v) => fmtMoney(v, g.currency));
    }) },
    loyalty_members: { mart: "loyalty_members", draw: (t) => facets(t, (box, g) => {
      const rows = monthRows("loyalty_members", g.sites);
      const keys = [...new Set(rows.map((r) => r.month + "|" + r.member_group))].sort();
      if (!keys.length) return empty(box);
      // Customers are distinct per month: shown per month, never added over months.
      return table(box, ["month", "group", "orders", "customers", "revenue", "average order", "orders per customer"], keys.map((k) => {
        const [m, grp] = k.split("|"), mine = rows.filter((r) => r.month === m && r.member_group === grp);
        const orders = sum(mine, "orders"), customers = sum(mine, "customers"), revenue = sum(mine, "gross_revenue");
        return [m.slice(0, 7), label(grp), fmtInt(orders), fmtInt(customers), fmtMoney(revenue, g.currency), orders ? fmtMoney(revenue / orders, g.currency) : "n/a", customers ? String(r2(orders / customers)) : "n/a"];
      }));
    }) },
    loyalty_liability: { mart: "loyalty_liability", draw: (t) => facets(t, (box, g) => {
      const labels = dateAxis(g.sites), rows = windowRows("loyalty_liability", g.sites, false), last = lastRows("loyalty_liability", g.sites);
      const c = ` (${g.currency})`;
      const facts = [["points outstanding " + atEnd() + c, fmtInt(sum(last, "outstanding_points"))], ["liability " + atEnd() + c, last.length ? fmtMoney(sum(last, "liability"), g.currency) : "n/a"]];
      const eng = T("loyalty_engagement") ? windowRows("loyalty_engagement", g.sites, false) : [];
      if (T("loyalty_engagement")) facts.push(["redemptions in the window" + c, fmtInt(sum(eng, "redemptions"))]);
      stats(box, facts);
      const by = sumBy(rows, (r) => r.business_date, "liability");
      let n = lineChart(box, labels, [{ name: "liability", values: labels.map((d) => by.get(d) || 0), color: PALETTE[6] }], (v) => fmtMoney(v, g.currency));
      if (eng.length) {
        // The rolling 30-day engagement rate per website (a rate: never added across websites).
        box.append(el("p", { cls: "facet-title", text: "Engagement rate (30 days, %)" }));
        n += lineChart(box, labels, g.sites.map((x, i) => {
          const m = new Map(eng.filter((r) => String(r.website_id) === String(x.id) && r.engagement_rate_30d != null).map((r) => [r.business_date, Number(r.engagement_rate_30d)]));
          return { name: (g.sites.length > 1 ? x.name + " " : "") + "engagement rate", values: labels.map((d) => m.get(d) || 0), color: PALETTE[(i + 5) % PALETTE.length] };
        }), fmtPct);
      }
      return n;
    }) },
    predictions: { mart: "predictions", draw: (t) => facets(t, (box, g) => {
      const rows = forSites("predictions", g.sites), c = ` (${g.currency})`;
      stats(box, [["customers scored" + c, fmtInt(sum(rows, "scored"))], ["predicted value, next 12 months" + c, fmtMoney(sum(rows, "predicted_value_12m"), g.currency)],
        ["expected orders, next 90 days" + c, fmtInt(sum(rows, "expected_orders_90d"))]]);
      const bands = [["alive_0_25", "p_alive < 0.25"], ["alive_25_50", "0.25 – 0.5"], ["alive_50_75", "0.5 – 0.75"], ["alive_75_100", "≥ 0.75"]];
      return hbars(box, bands.map(([col, name], i) => ({ label: name, value: sum(rows, col), color: PALETTE[[4, 1, 5, 2][i]] })), fmtInt);
    }) },
  };

  /* The window and configuration a panel draws with: its widget's (live page), else the page's. */
  function withPanel(node, fn) {
    const panel = node.closest("[data-widget]");
    drawing = panel && panel.dataset.window ? JSON.parse(panel.dataset.window) : null;
    conf = panel && panel.dataset.conf ? JSON.parse(panel.dataset.conf) : {};
    try { return fn(); } finally { drawing = null; conf = {}; }
  }

  function renderCharts() {
    for (const node of document.querySelectorAll(".chart")) {
      const name = node.dataset.chart, spec = CHARTS[name];
      node.textContent = "";
      node.removeAttribute("data-missing");
      node.removeAttribute("data-error");
      const source = spec.mart;
      if (!D[source] || (source === "daily" && !D.daily)) {
        const marts = { ...(D.sources || {}), campaigns: "fct_campaign_performance", deliveries: "fct_deliveries_daily", support: "fct_support_tickets_daily", windows: "fct_customer_order_days", rates: "fct_customer_rates", vip_tiers: "dim_customers", ltv_segments: "dim_customers", cohorts: "fct_customer_cohorts", loyalty_tiers: "fct_loyalty_tier_daily", points: "fct_loyalty_points_daily", redemptions: "fct_redemption_items", redemption_categories: "fct_redemption_categories", items: "fct_item_sales", payments: "fct_payment_methods", statuses: "fct_order_status", channels: "fct_revenue_by_channel", discounts: "fct_discounts", wallet: "fct_wallet_conversions" };
        node.dataset.missing = marts[source] || source;
        node.dataset.rendered = "0";
        node.append(el("p", { cls: "empty", text: `Not available: ${node.dataset.missing} is not built yet.` }));
        continue;
      }
      try {
        node.dataset.rendered = String(withPanel(node, () => spec.draw(node)) || 0);
      } catch (err) {
        node.dataset.rendered = "0";
        node.dataset.error = String(err);
        console.error("chart " + name + " failed:", err);
      }
    }
    for (const root of document.querySelectorAll(".cards")) withPanel(root, () => renderCards(root));
  }

  /* "Kampala: 2026-03-11 – 2026-04-09 (UGX) · …" for the window in force. */
  function windowText(list) {
    const wins = list.map(windowOf);
    return list.map((x, i) => `${x.name}: ${wins[i].start} – ${wins[i].end} (${x.currency}${x.first_date && wins[i].start < x.first_date ? `; data from ${x.first_date}` : ""})`).join(" · ") +
      ` · compared with the ${spanOf(current())} day(s) before`;
  }

  function render() {
    const list = selected();
    document.getElementById("window").textContent = list.length ? windowText(list) : "";
    for (const panel of document.querySelectorAll("[data-widget] .widget-window")) {
      withPanel(panel, () => { panel.textContent = "This widget's window: " + windowText(list); });
    }
    renderCharts();
    document.body.dataset.period = state.period;
    document.body.dataset.website = state.website;
  }

  /* The website picker, from the payload's websites (the selection kept when it still exists). */
  function setupWebsites() {
    const pick = document.getElementById("website");
    pick.textContent = "";
    pick.append(el("option", { value: "all", text: "All websites" + (new Set(sites.map((x) => x.currency)).size > 1 ? " (per currency)" : "") }));
    for (const x of sites) pick.append(el("option", { value: String(x.id), text: `${x.name} (${x.currency})` }));
    if (state.website !== "all" && !siteById[state.website]) state.website = "all";
    pick.value = state.website;
    const soFar = sites.some((x) => x.today_so_far) ? " (today so far)" : "";
    document.getElementById("meta").textContent = `as of ${[...new Set(sites.map((x) => x.as_of))].join(" / ")}${soFar} · generated ${D.generated_at}`;
  }

  function hashState() {
    const params = new URLSearchParams(location.hash.slice(1));
    // (the live page checks the period against the payload's once it has one)
    if (params.get("period") in D.periods || (LIVE && params.get("period") && (params.get("period") !== "range" || (params.get("from") && params.get("to"))))) state.period = params.get("period");
    if (state.period === "range") { state.from = params.get("from"); state.to = params.get("to"); }
    if (params.get("website")) state.website = params.get("website");
  }
  function writeHash() {
    const range = state.period === "range" ? `&from=${state.from}&to=${state.to}` : "";
    try { history.replaceState(null, "", `#period=${state.period}${range}&website=${state.website}`); } catch (e) { /* some file:// contexts refuse */ }
  }

  function wire(onRange) {
    const period = document.getElementById("period"), pick = document.getElementById("website");
    period.value = state.period;
    const change = () => {
      if (period.value === "range") {
        // The range applies with its own button (the live page fetches its figures).
        document.getElementById("range-form").hidden = false;
        return;
      }
      if (LIVE) document.getElementById("range-form").hidden = true;
      state.period = period.value; state.website = pick.value;
      writeHash();
      render();
    };
    period.addEventListener("change", change);
    pick.addEventListener("change", () => { state.website = pick.value; writeHash(); render(); });
    let lastWidth = window.innerWidth, timer = null;
    window.addEventListener("resize", () => {
      if (window.innerWidth === lastWidth) return;
      lastWidth = window.innerWidth;
      clearTimeout(timer);
      timer = setTimeout(renderCharts, 120);
    });
    if (onRange) onRange();
  }

  function initStatic() {
    hashState();
    setupWebsites();
    wire(null);
    document.getElementById("foot").textContent = `Data: DuckDB marts (${D.marts.length} tables) embedded at publish time. Amounts are in each website's currency and never added across currencies.`;
    render();
    document.body.dataset.ready = "1";
  }

  /* ---------- the live page (/dashboard of `mealytics serve`) ---------- */
  const WIDGETS_URL = "/api/v1/loyalty-management/dashboard-widgets/";
  const PAYLOAD_URL = "/api/v1/dashboard/payload";
  const TOKEN_KEY = "mealytics-api-token";
  /* Each widget type and the panel (chart) it draws; key_metrics: the metric cards. */
  const WIDGET_CHARTS = {
    key_metrics: "cards", revenue_trend: "revenue_trend", revenue_by_channel: "channels", revenue_reconciliation: "reconciliation",
    collection_health: "payment_health", payment_methods: "payments", order_status: "statuses", top_items: "top_items",
    acquisition_retention: "acquisition", discounts: "discounts", vip_tiers: "vip_tiers", vip_tier_revenue: "vip_tier_revenue",
    ltv_segments: "ltv", churn_risk: "churn", predicted_value: "predictions", retention_cohorts: "cohorts",
    subscriptions: "subscriptions", mrr_movements: "mrr_movements", points_issued: "points", tier_distribution: "loyalty_tiers",
    loyalty_members: "loyalty_members", points_liability: "loyalty_liability", top_redemptions: "top_redemptions",
    redemption_insights: "redemption_insights", engagement_rate: "engagement", campaigns: "campaigns",
    campaign_course: "campaign_course", campaign_channels: "campaign_channels", referral_funnel: "referrals",
    delivery_performance: "deliveries", kitchen: "kitchen", staff: "staff", health_goals: "health_goals",
    recent_orders: "recent_orders", support_consultations: "operations",
    redemptions_trend: "redemptions_trend", points_balance: "points_balance", wallet_conversion: "wallet_conversion",
  };
  /* Panels of request 003's widgets that the static page does not have. */
  const LIVE_PANELS = {
    redemptions_trend: ["Redemptions trend", "Completed redemptions per day in the window."],
    points_balance: ["Points balance", "Points outstanding (ledger balance) at the window's end, and the clients holding them."],
    wallet_conversion: ["Points to wallet", "Redemptions of wallet-credit items in the window: conversions, points and the credit given."],
  };
  const templates = {}, staticOrder = [];
  function keepTemplates() {
    const cards = document.querySelector(".cards");
    templates.cards = cards;
    staticOrder.push("key_metrics");
    const byChart = Object.fromEntries(Object.entries(WIDGET_CHARTS).map(([k, v]) => [v, k]));
    for (const section of document.querySelectorAll("main.grid > .panel")) {
      const chart = section.querySelector(".chart").dataset.chart;
      templates[chart] = section;
      staticOrder.push(byChart[chart]);
    }
    for (const [type, [title, note]] of Object.entries(LIVE_PANELS)) {
      templates[WIDGET_CHARTS[type]] = el("section", { cls: "panel" }, el("h2", { text: title }), el("p", { cls: "note", text: note }), el("div", { cls: "chart", "data-chart": WIDGET_CHARTS[type] }));
    }
    cards.remove();
    document.querySelector("main.grid").textContent = "";
  }
  function widgetWindow(c) {
    if (c.days) return { days: c.days };
    if (c.date_from && c.date_to) return { from: c.date_from, to: c.date_to };
    return null;
  }
  /* The panels of the visible widgets in position order; no widget stored: every static panel. */
  function arrange(widgets) {
    const grid = document.querySelector("main.grid");
    grid.textContent = "";
    const list = widgets.length
      ? widgets.filter((w) => w.is_visible && WIDGET_CHARTS[w.widget_type]).sort((a, b) => a.position - b.position || a.id - b.id)
      : staticOrder.map((type) => ({ id: "", widget_type: type, title: null, configuration: {} }));
    for (const w of list) {
      const panel = templates[WIDGET_CHARTS[w.widget_type]].cloneNode(true);
      panel.dataset.widget = w.widget_type;
      panel.dataset.widgetId = String(w.id);
      panel.dataset.conf = JSON.stringify(w.configuration || {});
      const own = widgetWindow(w.configuration || {});
      if (own) panel.dataset.window = JSON.stringify(own);
      if (w.widget_type === "key_metrics") {
        panel.classList.add("full");
        if (w.title) panel.prepend(el("h2", { cls: "widget-title", text: w.title }));
      } else if (w.title) panel.querySelector("h2").textContent = w.title;
      if (own) panel.append(el("p", { cls: "note widget-window" }));
      grid.append(panel);
    }
    if (!list.length) grid.append(el("p", { cls: "empty", id: "no-widget", text: "No visible widget: an admin can show one (dashboard-widgets/)." }));
    document.body.dataset.widgets = list.map((w) => w.widget_type).join(" ");
  }

  function token() { try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; } }
  function setToken(value) { try { if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* storage refused: kept for this page only */ } }
  function message(text, kind) {
    const box = document.getElementById("message");
    box.textContent = text || "";
    box.dataset.kind = kind || "";
    box.hidden = !text;
  }
  /* No data on the page: no token, or a token refused. */
  function clearData(kind, text) {
    load({ websites: [], periods: D.periods || {}, marts: [] });
    document.querySelector("main.grid").textContent = "";
    for (const id of ["window", "meta", "foot", "version"]) document.getElementById(id).textContent = "";
    document.getElementById("website").textContent = "";
    document.body.dataset.state = kind;
    message(text, kind);
  }
  class Refused extends Error {}
  async function api(path) {
    const answer = await fetch(path, { headers: { Authorization: "Bearer " + token() }, cache: "no-store", credentials: "omit" });
    if (answer.status === 401) throw new Refused("This API token is not valid (unknown or revoked): enter another one.");
    let body = null;
    try { body = await answer.json(); } catch (e) { /* not JSON */ }
    if (!answer.ok) throw new Error((body && typeof body.detail === "string" ? body.detail : JSON.stringify(body && body.detail)) || answer.statusText);
    return { body, version: answer.headers.get("X-Mealytics-Version") };
  }
  /* The windows the page needs besides the periods: its range and the widgets' own. */
  function payloadQuery(widgets) {
    const q = new URLSearchParams();
    if (state.period === "range") { q.set("date_from", state.from); q.set("date_to", state.to); }
    for (const w of widgets) {
      const own = w.is_visible && widgetWindow(w.configuration || {});
      if (own) q.append("window", keyOf(own));
    }
    return q.toString();
  }
  let loading = 0;
  async function refresh() {
    if (!token()) { clearData("no-token", "Enter an API token (`mealytics api token create`) to see the dashboard."); return; }
    const mine = ++loading;
    document.body.dataset.loading = "1";
    try {
      const widgets = (await api(WIDGETS_URL)).body;
      const got = await api(PAYLOAD_URL + "?" + payloadQuery(widgets));
      if (mine !== loading) return; // a newer refresh is under way
      load(got.body);
      if (state.period !== "range" && !(state.period in D.periods)) state.period = "month";
      setupWebsites();
      arrange(widgets);
      document.getElementById("version").textContent = got.version ? "published version " + got.version : "";
      document.body.dataset.version = got.version || "";
      document.getElementById("foot").textContent = `Data: the published marts (version ${got.version || "?"}, ${D.marts.length} tables), read live for this token's websites. Amounts are in each website's currency and never added across currencies.`;
      const dates = document.querySelectorAll("#range-form input[type=date]");
      for (const d of dates) { d.min = sites.reduce((a, x) => (x.first_date < a ? x.first_date : a), "9999"); d.max = sites.reduce((a, x) => (x.as_of > a ? x.as_of : a), ""); }
      document.getElementById("period").value = state.period;
      document.getElementById("range-form").hidden = state.period !== "range";
      message("", "");
      writeHash();
      render();
      document.body.dataset.state = "ready";
      document.body.dataset.ready = "1";
      document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
    } catch (err) {
      if (err instanceof Refused) { setToken(""); clearData("invalid-token", err.message); }
      else { message(err.message || String(err), "error"); document.body.dataset.state = D.websites.length ? "ready" : "error"; }
      document.body.dataset.errors = String(Number(document.body.dataset.errors || 0) + 1);
    } finally {
      if (mine === loading) document.body.dataset.loading = "";
    }
  }
  /* A range picked on the page: checked here (within the data, from <= to), then fetched. */
  function applyRange() {
    const from = document.getElementById("date-from").value, to = document.getElementById("date-to").value;
    const first = sites.reduce((a, x) => (x.first_date < a ? x.first_date : a), "9999"), last = sites.reduce((a, x) => (x.as_of > a ? x.as_of : a), "");
    let problem = null;
    if (!from || !to) problem = "Pick both dates of the range.";
    else if (from > to) problem = `The range starts (${from}) after it ends (${to}).`;
    else if (sites.length && (from < first || to > last)) problem = `The data runs from ${first} to ${last}: pick a range within it.`;
    if (problem) { message(problem, "error"); document.body.dataset.errors = String(Number(document.body.dataset.errors || 0) + 1); return; }
    state.period = "range"; state.from = from; state.to = to;
    refresh();
  }
  function initLive() {
    keepTemplates();
    document.body.dataset.live = "1";
    // A token in the fragment (never sent to a server): kept for the session, then removed.
    const tokenFromHash = () => {
      const params = new URLSearchParams(location.hash.slice(1));
      if (!params.get("token")) return false;
      setToken(params.get("token"));
      params.delete("token");
      try { history.replaceState(null, "", location.pathname + location.search + (params.toString() ? "#" + params : "")); } catch (e) { /* ignore */ }
      return true;
    };
    tokenFromHash();
    window.addEventListener("hashchange", () => { if (tokenFromHash()) refresh(); });
    hashState();
    const period = document.getElementById("period");
    period.append(el("option", { value: "range", text: "Date range…" }));
    if (state.period === "range") { document.getElementById("date-from").value = state.from; document.getElementById("date-to").value = state.to; }
    wire(() => {
      document.getElementById("range-form").addEventListener("submit", (e) => { e.preventDefault(); applyRange(); });
      document.getElementById("token-form").addEventListener("submit", (e) => {
        e.preventDefault();
        const field = document.getElementById("token");
        setToken(field.value.trim());
        field.value = "";
        refresh();
      });
      document.getElementById("token-forget").addEventListener("click", () => { setToken(""); refresh(); });
      document.getElementById("refresh").addEventListener("click", () => refresh());
    });
    refresh();
  }

  if (LIVE) initLive(); else initStatic();
})();
