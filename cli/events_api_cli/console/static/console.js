// The console's one script: routes by path, reads each view's JSON and builds the page
// with DOM nodes. Event content only ever becomes text (textContent, text nodes), never
// markup; links are built here from encoded ids, never taken from events.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const TAIL_MS = Number(document.body.dataset.tailMs) || 2000;
  const RANGES = ["15m", "1h", "6h", "24h", "7d"];
  const COLORS = ["#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2"];
  const MAX_CELL = 300;
  const state = { filters: [], from: null, to: null, fieldsFor: null, shown: new Set() };
  let inflight = null;
  let plot = null;
  let tailTimer = null;
  let tailBusy = false;

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") el.textContent = value;
      else if (key === "class") el.className = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  // ------------------------------------------------------------------ formatting

  const clip = (text, n = MAX_CELL) => (text.length > n ? text.slice(0, n - 1) + "…" : text);
  const fmtTime = (text) => (text ? text.replace("T", " ").replace("Z", "") : "");
  function fmtBytes(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(2) + " GB";
    if (n >= 1e6) return (n / 1e6).toFixed(1) + " MB";
    if (n >= 1e3) return (n / 1e3).toFixed(1) + " KB";
    return n + " B";
  }
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return "";
    return ms >= 1000 ? (ms / 1000).toFixed(2) + " s" : (Math.round(ms * 100) / 100) + " ms";
  }
  function fmtStep(seconds) {
    if (seconds % 86400 === 0) return seconds / 86400 + " d";
    if (seconds % 3600 === 0) return seconds / 3600 + " h";
    if (seconds % 60 === 0) return seconds / 60 + " min";
    return seconds + " s";
  }
  const fmtNumber = (v) => (typeof v === "number" && !Number.isInteger(v) ? String(Math.round(v * 1000) / 1000) : String(v));
  function pretty(text) {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch (error) {
      return String(text); // too deep or not JSON: the text as stored
    }
  }
  function ranText(answer) {
    const parts = [answer.seconds.toFixed(3) + " s", answer.engine];
    if (answer.scannedBytes !== null && answer.scannedBytes !== undefined) {
      parts.push(fmtBytes(answer.scannedBytes) + " scanned", "$" + answer.costUsd.toFixed(6));
    }
    return parts.join(" · ");
  }
  function setStatus(id, text, isError) {
    const el = $(id);
    el.textContent = text;
    el.classList.toggle("error", Boolean(isError));
  }
  const progressText = (p) => `Running on Athena: ${p.state}, ${p.seconds} s, ${fmtBytes(p.scannedBytes)} scanned`;

  // ------------------------------------------------------------------ fetching

  async function fetchAnswer(url, onProgress, signal) {
    const response = await fetch(url, { headers: { Accept: "application/x-ndjson" }, signal });
    if (!response.ok) {
      let message = response.statusText;
      try { message = (await response.json()).error || message; } catch (error) { /* keep it */ }
      throw new Error(message);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        if (!line.trim()) continue;
        const doc = JSON.parse(line);
        if (doc.progress && onProgress) onProgress(doc.progress);
        else if (doc.error) throw new Error(doc.error);
        else if (doc.answer) return doc.answer;
      }
      if (done) throw new Error("the answer ended early");
    }
  }

  function fresh() {
    if (inflight) inflight.abort();
    inflight = new AbortController();
    return inflight.signal;
  }

  function showSql(containerId, statements) {
    const box = $(containerId);
    box.replaceChildren(...statements.map((s) => h("div", { class: "statement" },
      h("p", {}, h("strong", { text: s.name }),
        ` ${s.seconds.toFixed(3)} s, ${s.rows} rows` + (s.scannedBytes !== null ? `, ${fmtBytes(s.scannedBytes)} scanned, $${s.costUsd.toFixed(6)}` : ""), " ",
        h("a", { href: "/sql?" + new URLSearchParams({ q: s.sql }), "data-nav": true }, "Open in SQL")),
      h("pre", { class: "sql", text: s.sql }))));
  }

  // ------------------------------------------------------------------ explore: controls

  function renderFilters() {
    $("filters").replaceChildren(...state.filters.map((text, i) => h("li", {},
      h("span", { text }), " ",
      h("button", { type: "button", class: "remove", "aria-label": `Remove filter ${text}`, onclick: () => {
        state.filters.splice(i, 1);
        renderFilters();
      } }, "×"))));
  }

  function option(select, value, label) {
    let found = [...select.options].find((o) => o.value === value);
    if (!found) {
      found = h("option", { value }, label || value);
      select.append(found);
    }
    return found;
  }

  function controlsFromParams(params) {
    const datasets = params.getAll("dataset");
    for (const name of datasets) option($("dataset"), name);
    for (const o of $("dataset").options) o.selected = datasets.includes(o.value);
    const range = $("range");
    if (params.get("from")) {
      state.from = params.get("from");
      state.to = params.get("to");
      const custom = option(range, "custom");
      custom.hidden = false;
      custom.textContent = `${fmtTime(state.from)} – ${state.to ? fmtTime(state.to) : "now"}`;
      range.value = "custom";
    } else {
      const since = params.get("since") || "1h";
      if (!RANGES.includes(since)) option(range, since, `Last ${since}`);
      range.value = since;
    }
    $("tail").disabled = range.value === "custom";
    if ($("tail").disabled) $("tail").checked = false;
    $("search").value = params.get("search") || "";
    state.filters = params.getAll("where");
    renderFilters();
    $("calc").value = params.getAll("calc").join(", ") || "count";
    $("by").value = params.get("by") || "";
  }

  function paramsFromControls() {
    const params = new URLSearchParams();
    for (const o of $("dataset").selectedOptions) params.append("dataset", o.value);
    const range = $("range").value;
    if (range === "custom") {
      if (state.from) params.set("from", state.from);
      if (state.to) params.set("to", state.to);
    } else if (range !== "1h") params.set("since", range);
    const search = $("search").value.trim();
    if (search) params.set("search", search);
    const pending = $("filter").value.trim();
    if (pending) {
      state.filters.push(pending);
      $("filter").value = "";
    }
    for (const f of state.filters) params.append("where", f);
    const calc = $("calc").value.trim();
    if (calc && calc !== "count") params.set("calc", calc);
    const by = $("by").value.trim();
    if (by) params.set("by", by);
    return params;
  }

  async function loadDatasets() {
    try {
      const answer = await (await fetch("/datasets.json")).json();
      for (const name of answer.datasets || []) option($("dataset"), name);
    } catch (error) {
      setStatus("explore-status", "Could not list the datasets: " + error.message, true);
    }
  }

  async function loadFields(datasets) {
    const key = datasets.join(",");
    if (state.fieldsFor === key) return;
    state.fieldsFor = key;
    const params = new URLSearchParams(datasets.map((d) => ["dataset", d]));
    try {
      const answer = await (await fetch("/fields.json?" + params)).json();
      $("fields").replaceChildren(...(answer.fields || []).map((f) => h("option", { value: f })));
    } catch (error) {
      state.fieldsFor = null;
    }
  }

  // ------------------------------------------------------------------ explore: answers

  async function runExplore() {
    const params = new URLSearchParams(location.search);
    controlsFromParams(params);
    const signal = fresh();
    setStatus("explore-status", "Running…");
    try {
      const answer = await fetchAnswer("/explore.json?" + params,
        (p) => setStatus("explore-status", progressText(p)), signal);
      renderExplore(answer);
      loadFields(answer.query.datasets);
    } catch (error) {
      if (error.name !== "AbortError") setStatus("explore-status", "Error: " + error.message, true);
    }
  }

  function renderExplore(answer) {
    setStatus("explore-status", `${answer.events.length} events · ${ranText(answer)}`);
    renderChart(answer.series, answer.query);
    renderResults(answer.results, answer.query);
    state.shown = new Set();
    $("events").tBodies[0].replaceChildren();
    addEvents(answer.events, false);
    showSql("explore-sql", answer.statements);
  }

  function chartSummary(series, query, names) {
    const calc = query.calcs[0];
    const additive = calc === "count" || calc.startsWith("sum(");
    const figure = (values) => {
      const present = values.filter((v) => v !== null && v !== undefined);
      if (!present.length) return "no data";
      return additive ? "total " + fmtNumber(present.reduce((a, b) => a + b, 0))
        : "max " + fmtNumber(Math.max(...present));
    };
    const head = `${calc} per ${fmtStep(series.step)}, ${fmtTime(query.from)} to ${fmtTime(query.to)} UTC`;
    if (!query.by) return `${head}: ${series.series.length ? figure(series.series[0].values) : "no data"}`;
    if (!series.series.length) return `${head} by ${query.by}: no data`;
    return `${head} by ${query.by}, top ${series.series.length}: ` +
      series.series.map((s, i) => `${names[i]} ${figure(s.values)}`).join("; ");
  }

  function renderChart(series, query) {
    const el = $("chart");
    if (plot) { plot.destroy(); plot = null; }
    const names = series.series.map((s) => (s.group === null ? (query.by ? "(none)" : query.calcs[0]) : String(s.group)));
    const summary = chartSummary(series, query, names);
    el.setAttribute("aria-label", "Events over time: " + summary);
    $("chart-summary").textContent = summary;
    if (!series.series.length || typeof uPlot === "undefined") return;
    const single = series.series.length === 1;
    const options = {
      width: Math.max(320, el.clientWidth || 800),
      height: 220,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      scales: { x: { time: true } },
      legend: { show: !single },
      cursor: { drag: { x: true, y: false } },
      series: [{ label: "time" }, ...names.map((name, i) => ({
        label: name,
        stroke: COLORS[i % COLORS.length],
        fill: single ? COLORS[0] + "55" : undefined,
        width: single ? 1 : 1.5,
        points: { show: false },
        paths: single ? uPlot.paths.bars({ size: [0.9, 40], align: 1 }) : undefined,
      }))],
      hooks: { setSelect: [(u) => {
        if (u.select.width < 4) return;
        const from = u.posToVal(u.select.left, "x");
        const to = u.posToVal(u.select.left + u.select.width, "x");
        const params = new URLSearchParams(location.search);
        params.delete("since");
        params.set("from", new Date(from * 1000).toISOString());
        params.set("to", new Date(to * 1000).toISOString());
        navigate("/?" + params);
      }] },
    };
    plot = new uPlot(options, [series.times, ...series.series.map((s) => s.values)], el);
  }

  function renderResults(results, query) {
    const table = $("results");
    table.tHead.replaceChildren(h("tr", {}, results.columns.map((c) => h("th", { scope: "col", text: c }))));
    table.tBodies[0].replaceChildren(...results.rows.map((row) => h("tr", {}, row.map((value, i) => {
      if (query.by && i === 0) {
        const text = value === null ? "(none)" : String(value);
        return h("th", { scope: "row" }, value === null ? text : h("button", {
          type: "button", class: "link", title: `Filter on ${query.by} = ${text}`,
          onclick: () => addFilterAndRun(`${query.by} = ${text}`),
        }, text));
      }
      return h("td", { class: "number", text: value === null ? "" : fmtNumber(value) });
    }))));
  }

  function addFilterAndRun(text) {
    const params = new URLSearchParams(location.search);
    params.append("where", text);
    params.delete("by");
    navigate("/?" + params);
  }

  function traceLink(event) {
    const params = new URLSearchParams();
    const at = Date.parse(event.time);
    if (!Number.isNaN(at)) {
      params.set("from", new Date(at - 3600e3).toISOString());
      params.set("to", new Date(at + 3600e3).toISOString());
    }
    return h("a", { class: "trace", href: `/trace/${encodeURIComponent(event.traceId)}?${params}`, "data-nav": true }, "trace");
  }

  function eventRow(event, isNew) {
    const expand = h("button", { type: "button", class: "expand", "aria-expanded": "false", "aria-label": "Show the whole event" }, "▸");
    const text = event.message ?? event.event ?? "";
    const row = h("tr", { class: isNew ? "event new" : "event", "data-id": event.id },
      h("td", { class: "time" }, expand, " ", fmtTime(event.time)),
      h("td", { text: event.dataset ?? "" }),
      h("td", { text: event.service ?? "" }),
      h("td", { class: "level level-" + String(event.level ?? "").toLowerCase().replace(/[^a-z]/g, ""), text: event.level ?? "" }),
      h("td", { class: "message" }, clip(String(text)), event.traceId ? [" ", traceLink(event)] : null));
    let detail = null;
    expand.addEventListener("click", () => {
      if (detail) {
        detail.remove();
        detail = null;
        expand.setAttribute("aria-expanded", "false");
        expand.textContent = "▸";
        return;
      }
      detail = h("tr", { class: "detail" }, h("td", { colspan: 5 }, h("pre", { class: "json", text: pretty(event.event) })));
      row.after(detail);
      expand.setAttribute("aria-expanded", "true");
      expand.textContent = "▾";
    });
    return row;
  }

  function addEvents(events, atTop) {
    const body = $("events").tBodies[0];
    const rows = events.filter((e) => !state.shown.has(e.id)).map((e) => {
      state.shown.add(e.id);
      return eventRow(e, atTop);
    });
    if (atTop) body.prepend(...rows);
    else body.append(...rows);
    return rows.length;
  }

  async function tailOnce() {
    if (tailBusy || location.pathname !== "/") return;
    tailBusy = true;
    const params = new URLSearchParams(location.search);
    params.set("tail", "1");
    try {
      const answer = await fetchAnswer("/explore.json?" + params, null);
      const added = addEvents(answer.events.slice().reverse(), true);
      setStatus("explore-status", `Live tail: ${added} new · ${new Date().toISOString().slice(11, 19)} UTC · ${ranText(answer)}`);
    } catch (error) {
      setStatus("explore-status", "Live tail: " + error.message, true);
    } finally {
      tailBusy = false;
    }
  }

  function setTail(on) {
    clearInterval(tailTimer);
    tailTimer = on ? setInterval(tailOnce, TAIL_MS) : null;
  }

  // ------------------------------------------------------------------ trace

  async function runTrace(traceId) {
    $("trace-id").textContent = traceId;
    $("spans").replaceChildren();
    $("span-detail").hidden = true;
    const signal = fresh();
    setStatus("trace-status", "Running…");
    try {
      const answer = await fetchAnswer(`/trace/${encodeURIComponent(traceId)}.json${location.search}`,
        (p) => setStatus("trace-status", progressText(p)), signal);
      renderTrace(answer);
    } catch (error) {
      if (error.name !== "AbortError") setStatus("trace-status", "Error: " + error.message, true);
    }
  }

  function renderTrace(answer) {
    const spans = answer.spans;
    showSql("trace-sql", answer.statements);
    if (!spans.length) {
      setStatus("trace-status", `No spans of this trace in the time range · ${ranText(answer)}`);
      $("trace-axis").replaceChildren();
      return;
    }
    const starts = spans.map((s) => s.start ?? 0);
    const t0 = Math.min(...starts);
    const t1 = Math.max(...spans.map((s) => (s.start ?? 0) + (s.durationMs ?? 0)));
    const total = Math.max(t1 - t0, 0.001);
    const services = new Set(spans.map((s) => s.service));
    setStatus("trace-status", `${spans.length} spans · ${services.size} services · ${fmtMs(total)} · ${ranText(answer)}`);
    $("trace-axis").replaceChildren(...[0, 0.25, 0.5, 0.75, 1].map((f) => {
      const tick = h("span", { class: "tick", text: fmtMs(total * f) });
      tick.style.left = f * 100 + "%";
      return tick;
    }));
    const lists = [$("spans")];
    let last = null;
    for (const span of spans) {
      while (lists.length - 1 > span.depth) lists.pop();
      while (span.depth > lists.length - 1 && last) {
        const nested = h("ul");
        last.append(nested);
        lists.push(nested);
      }
      const bar = h("span", { class: "bar status-" + String(span.status ?? "unset").replace(/[^a-z]/g, "") });
      bar.style.marginLeft = (((span.start ?? t0) - t0) / total) * 100 + "%";
      bar.style.width = Math.max(((span.durationMs ?? 0) / total) * 100, 0.4) + "%";
      const name = h("button", { type: "button", class: "span-name", "aria-expanded": "false" }, span.name);
      name.addEventListener("click", () => showSpan(span, name));
      const item = h("li", { class: "span", "data-span-id": span.spanId },
        h("div", { class: "span-row" },
          h("span", { class: "label" }, name, " ", h("span", { class: "service", text: span.service ?? "" }),
            span.status && span.status !== "unset" ? h("span", { class: "status status-" + span.status, text: span.status }) : null),
          h("span", { class: "track" }, bar),
          h("span", { class: "duration", text: fmtMs(span.durationMs) })));
      lists[lists.length - 1].append(item);
      last = item;
    }
  }

  function showSpan(span, button) {
    for (const other of document.querySelectorAll(".span-name[aria-expanded=true]")) other.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-expanded", "true");
    $("span-detail").hidden = false;
    $("span-title").textContent = `${span.name} · ${span.service ?? ""} · ${fmtMs(span.durationMs)}`;
    $("span-json").textContent = pretty(span.event);
  }

  // ------------------------------------------------------------------ SQL tab

  async function runSqlView() {
    const statement = new URLSearchParams(location.search).get("q");
    if (statement) $("sql-input").value = statement;
    const table = $("sql-rows");
    if (!statement) return;
    const signal = fresh();
    setStatus("sql-status", "Running…");
    try {
      const answer = await fetchAnswer("/sql.json?" + new URLSearchParams({ q: statement }),
        (p) => setStatus("sql-status", progressText(p)), signal);
      table.tHead.replaceChildren(h("tr", {}, answer.columns.map((c) => h("th", { scope: "col", text: c }))));
      table.tBodies[0].replaceChildren(...answer.rows.map((row) => h("tr", {},
        row.map((v) => h("td", { class: "cell", text: v === null ? "" : clip(typeof v === "string" ? v : JSON.stringify(v), 2000) })))));
      setStatus("sql-status", `${answer.rows.length} rows · ${ranText(answer)}`);
    } catch (error) {
      if (error.name !== "AbortError") setStatus("sql-status", "Error: " + error.message, true);
    }
  }

  // ------------------------------------------------------------------ routing

  function navigate(url) {
    if (url !== location.pathname + location.search) history.pushState(null, "", url);
    route();
  }

  function route() {
    const path = location.pathname;
    const view = path.startsWith("/trace/") ? "trace" : path === "/sql" ? "sql" : "explore";
    for (const name of ["explore", "trace", "sql"]) $(`${name}-view`).hidden = name !== view;
    if (view !== "explore") setTail(false);
    else setTail($("tail").checked);
    if (view === "trace") {
      document.title = "Trace · events-api";
      runTrace(decodeURIComponent(path.slice("/trace/".length)));
    } else if (view === "sql") {
      document.title = "SQL · events-api";
      runSqlView();
    } else {
      document.title = "Explore · events-api";
      runExplore();
    }
  }

  $("query").addEventListener("submit", (e) => {
    e.preventDefault();
    navigate("/?" + paramsFromControls());
  });
  $("filter").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && $("filter").value.trim()) {
      e.preventDefault();
      state.filters.push($("filter").value.trim());
      $("filter").value = "";
      renderFilters();
    }
  });
  $("dataset").addEventListener("change", () => loadFields([...$("dataset").selectedOptions].map((o) => o.value)));
  $("tail").addEventListener("change", () => setTail($("tail").checked));
  $("sql-form").addEventListener("submit", (e) => {
    e.preventDefault();
    navigate("/sql?" + new URLSearchParams({ q: $("sql-input").value }));
  });
  document.addEventListener("click", (e) => {
    const link = e.target.closest && e.target.closest("a[data-nav]");
    if (!link || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault();
    navigate(link.getAttribute("href"));
  });
  window.addEventListener("popstate", route);
  loadDatasets().then(route);
})();
