// The Osprey UI: pages drawn from the collector's own Prometheus HTTP API.
"use strict";
const { formatValue, escapeHtml: esc } = OspreyChart;
const REFRESH_MS = 15000;
const HOST_EXCLUDED_FS = 'fstype!~"tmpfs|overlay|squashfs|nsfs|ramfs"';

// ---- API ----
class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, params) {
  const url = params ? `${path}?${new URLSearchParams(params)}` : path;
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON */ }
  if (!response.ok || !body || body.status !== "success") {
    const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    throw new HttpError(response.status, message);
  }
  return body.data;
}

const query = (expr) => api("/api/v1/query", { query: expr }).then((d) => d.result);

// Instant vector as a map from the value of `label` to a number.
async function byLabel(expr, label) {
  const out = new Map();
  for (const s of await query(expr)) out.set(s.metric[label] || "", Number(s.value[1]));
  return out;
}

// ---- helpers ----
const $ = (id) => document.getElementById(id);
const page = $("page");

function bytes(v) {
  if (!Number.isFinite(v)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

const pct = (v) => (Number.isFinite(v) ? `${v.toFixed(1)}%` : "–");

function bar(label, value, text) {
  const level = value >= 90 ? "bad" : value >= 75 ? "warn" : "";
  const width = Number.isFinite(value) ? Math.max(0, Math.min(100, value)) : 0;
  return `<div class="metric"><span class="muted">${label}</span>
    <div class="bar"><span class="${level}" style="width:${width}%"></span></div>
    <span class="num">${text}</span></div>`;
}

function showError(error) {
  page.innerHTML = `<p class="error">Cannot load this page: ${esc(error.message)}</p>`;
}

function ago(iso) {
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  return Number.isFinite(seconds) && seconds >= 0 ? `${seconds.toFixed(1)} s ago` : "never";
}

// ---- pages ----
async function overview() {
  const [up, cpu, mem, memTotal, disk, load, uname] = await Promise.all([
    byLabel('up{job="node"}', "instance"),
    byLabel('100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[1m])))', "instance"),
    byLabel("100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)", "instance"),
    byLabel("node_memory_MemTotal_bytes", "instance"),
    byLabel(`100 * max by (instance) (1 - node_filesystem_avail_bytes{${HOST_EXCLUDED_FS}} / node_filesystem_size_bytes{${HOST_EXCLUDED_FS}})`, "instance"),
    byLabel("node_load1", "instance"),
    query("node_uname_info"),
  ]);
  const names = new Map(uname.map((s) => [s.metric.instance, s.metric.nodename]));
  const instances = [...up.keys()].sort();
  if (instances.length === 0) {
    page.innerHTML = `<h2>Hosts</h2><div class="empty">No target of job <code>node</code> yet.
      The first scrape lands within one interval.</div>`;
    return;
  }
  const cards = instances.map((instance) => {
    const isUp = up.get(instance) === 1;
    return `<div class="card"><h3><span>${esc(names.get(instance) || instance)}</span>
      <span class="badge ${isUp ? "up" : "down"}">${isUp ? "up" : "down"}</span></h3>
      <div class="muted">${esc(instance)}</div>
      ${bar("CPU busy", cpu.get(instance), pct(cpu.get(instance)))}
      ${bar("Memory", mem.get(instance), `${pct(mem.get(instance))} of ${bytes(memTotal.get(instance))}`)}
      ${bar("Disk (fullest)", disk.get(instance), pct(disk.get(instance)))}
      <div class="metric"><span class="muted">Load (1m)</span><span></span>
      <span class="num">${load.has(instance) ? load.get(instance).toFixed(2) : "–"}</span></div></div>`;
  });
  page.innerHTML = `<h2>Hosts</h2><div class="cards">${cards.join("")}</div>`;
}

async function containers() {
  const sel = 'name!=""';
  const [dockerUp, state, cpu, ws, limit, rx, tx, restarts] = await Promise.all([
    byLabel("osprey_docker_up", "instance"),
    query("osprey_container_state == 1"),
    byLabel(`sum by (name) (rate(container_cpu_usage_seconds_total{${sel}}[1m]))`, "name"),
    byLabel(`container_memory_working_set_bytes{${sel}}`, "name"),
    byLabel(`container_spec_memory_limit_bytes{${sel}}`, "name"),
    byLabel(`sum by (name) (rate(container_network_receive_bytes_total{${sel}}[1m]))`, "name"),
    byLabel(`sum by (name) (rate(container_network_transmit_bytes_total{${sel}}[1m]))`, "name"),
    byLabel("osprey_container_restarts_total", "name"),
  ]);
  const rows = new Map();
  for (const s of state) rows.set(s.metric.name, { state: s.metric.state, image: s.metric.image, instance: s.metric.instance });
  for (const name of ws.keys()) if (!rows.has(name)) rows.set(name, { state: "running" });
  if (rows.size === 0) {
    const unreachable = [...dockerUp].filter(([, v]) => v === 0).map(([instance]) => instance);
    page.innerHTML = `<h2>Containers</h2><div class="empty">${unreachable.length
      ? `The agent on ${esc(unreachable.join(", "))} cannot reach Docker (<code>osprey_docker_up</code> is 0):
        is the daemon running and its socket readable by the agent?`
      : "No containers reported."}</div>`;
    return;
  }
  const body = [...rows.keys()].sort().map((name) => {
    const r = rows.get(name);
    const used = ws.get(name), max = limit.get(name);
    const memory = max > 0 ? `${bytes(used)} / ${bytes(max)}` : `${bytes(used)} / no limit`;
    return `<tr><td>${esc(name)}<div class="muted">${esc(r.image || "")}</div></td>
      <td><span class="badge ${esc(r.state)}">${esc(r.state)}</span></td>
      <td class="num">${cpu.has(name) ? (cpu.get(name) * 100).toFixed(1) + "%" : "–"}</td>
      <td class="num">${memory}${max > 0 ? `<div class="bar"><span style="width:${Math.min(100, (100 * used) / max)}%"></span></div>` : ""}</td>
      <td class="num">${bytes(rx.get(name))}/s ↓ ${bytes(tx.get(name))}/s ↑</td>
      <td class="num">${restarts.has(name) ? restarts.get(name) : "–"}</td></tr>`;
  });
  page.innerHTML = `<h2>Containers</h2><table><thead><tr><th>Name</th><th>State</th>
    <th class="num">CPU</th><th class="num">Memory (working set / limit)</th>
    <th class="num">Network</th><th class="num">Restarts</th></tr></thead>
    <tbody>${body.join("")}</tbody></table>`;
}

async function targets() {
  const data = await api("/api/v1/targets");
  const active = data.activeTargets || [];
  if (active.length === 0) {
    page.innerHTML = `<h2>Targets</h2><div class="empty">No targets configured.</div>`;
    return;
  }
  const rows = active.map((t) => `<tr><td>${esc(t.scrapeUrl || "")}</td>
    <td><span class="badge ${esc(t.health)}">${esc(t.health)}</span></td>
    <td class="labels">${Object.entries(t.labels || {}).map(([k, v]) => `<code>${esc(k)}="${esc(v)}"</code>`).join("")}</td>
    <td>${ago(t.lastScrape)}</td><td class="num">${(Number(t.lastScrapeDuration) * 1000).toFixed(1)} ms</td>
    <td class="error">${esc(t.lastError || "")}</td></tr>`);
  page.innerHTML = `<h2>Targets</h2><table><thead><tr><th>Endpoint</th><th>State</th><th>Labels</th>
    <th>Last scrape</th><th class="num">Duration</th><th>Error</th></tr></thead>
    <tbody>${rows.join("")}</tbody></table>`;
}

const RANGES = { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800 };

function graphParams() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  return { expr: params.get("q") || 'rate(node_cpu_seconds_total{mode!="idle"}[1m])', range: params.get("range") || "1h" };
}

function rangeQuery(expr, range) {
  const end = Math.floor(Date.now() / 1000), start = end - RANGES[range];
  const step = Math.max(15, Math.ceil((end - start) / 500));
  return { query: expr, start, end, step };
}

async function graph(firstDraw) {
  const { expr, range } = graphParams();
  if (firstDraw) {
    page.innerHTML = `<h2>Graph</h2><form class="toolbar" id="graph-form">
      <input type="text" id="expr" aria-label="PromQL expression" spellcheck="false">
      <select id="range" aria-label="Time range">${Object.keys(RANGES).map((r) => `<option>${r}</option>`).join("")}</select>
      <button type="submit">Run</button><a id="csv" class="muted" href="#">Download CSV</a></form>
      <div id="graph-out"></div>`;
    $("expr").value = expr;
    $("range").value = range;
    $("graph-form").onsubmit = (event) => {
      event.preventDefault();
      location.hash = `#/graph?${new URLSearchParams({ q: $("expr").value, range: $("range").value })}`;
    };
  }
  const params = rangeQuery(expr, range);
  $("csv").href = `/api/v1/export.csv?${new URLSearchParams(params)}`;
  const out = $("graph-out");
  let data;
  try { data = await api("/api/v1/query_range", params); } catch (error) {
    out.innerHTML = `<p class="error">${esc(error.message)}</p>`;
    return;
  }
  const series = data.result.map((s) => ({
    name: seriesName(s.metric),
    points: s.values.map(([t, v]) => [t, Number(v)]),
  }));
  out.innerHTML = `<div class="chart"><canvas id="canvas"></canvas><div class="tip" id="tip"></div></div>
    <div class="legend" id="legend"></div><section><h2>Table</h2><table><thead><tr><th>Series</th>
    <th class="num">Last value</th><th class="num">Points</th></tr></thead><tbody>${series.map((s) =>
      `<tr><td><code>${esc(s.name)}</code></td><td class="num">${s.points.length ? formatValue(s.points[s.points.length - 1][1]) : "–"}</td>
      <td class="num">${s.points.length}</td></tr>`).join("")}</tbody></table></section>`;
  const colours = OspreyChart.draw($("canvas"), series, $("tip"));
  $("legend").innerHTML = series.map((s, i) => `<span><i style="background:${colours[i]}"></i>${esc(s.name)}</span>`).join("");
}

function seriesName(metric) {
  const { __name__: name = "", ...rest } = metric;
  const labels = Object.entries(rest).map(([k, v]) => `${k}="${v}"`).join(", ");
  return `${name}{${labels}}`;
}

async function alerts() {
  let alertList, groups;
  try {
    [alertList, groups] = await Promise.all([api("/api/v1/alerts"), api("/api/v1/rules")]);
  } catch (error) {
    if (error.status === 404) {
      page.innerHTML = `<h2>Alerts</h2><div class="empty">Alerting is not available on this collector:
        it does not serve <code>/api/v1/alerts</code> or <code>/api/v1/rules</code>.</div>`;
      return;
    }
    throw error;
  }
  const firing = (alertList.alerts || []).map((a) => `<tr>
    <td>${esc(a.labels.alertname || "")}</td><td><span class="badge ${esc(a.state)}">${esc(a.state)}</span></td>
    <td class="labels">${Object.entries(a.labels).map(([k, v]) => `<code>${esc(k)}="${esc(v)}"</code>`).join("")}</td>
    <td>${esc((a.annotations && (a.annotations.summary || a.annotations.description)) || "")}</td>
    <td>${esc(a.activeAt || "")}</td></tr>`);
  const rules = (groups.groups || []).flatMap((g) => (g.rules || []).map((r) => `<tr><td>${esc(g.name)}</td>
    <td>${esc(r.name)}</td><td><code>${esc(r.query)}</code></td>
    <td><span class="badge ${esc(r.state || r.health || "")}">${esc(r.state || r.health || "")}</span></td></tr>`));
  page.innerHTML = `<h2>Active alerts</h2>${firing.length ? `<table><thead><tr><th>Alert</th><th>State</th>
    <th>Labels</th><th>Summary</th><th>Active since</th></tr></thead><tbody>${firing.join("")}</tbody></table>`
    : `<div class="empty">Nothing is firing or pending.</div>`}
    <section><h2>Rules</h2>${rules.length ? `<table><thead><tr><th>Group</th><th>Rule</th><th>Expression</th>
    <th>State</th></tr></thead><tbody>${rules.join("")}</tbody></table>` : `<div class="empty">No rules loaded.</div>`}</section>`;
}

// ---- routing, refresh, theme ----
const PAGES = { overview, containers, targets, graph, alerts };
let timer = null;
let current = null;

async function render() {
  const name = location.hash.replace(/^#\//, "").split("?")[0] || "overview";
  const show = PAGES[name] || overview;
  const firstDraw = current !== location.hash;
  current = location.hash;
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.getAttribute("href") === `#/${name}`);
  }
  clearTimeout(timer);
  try { await show(firstDraw); } catch (error) { showError(error); }
  timer = setTimeout(() => render().catch(showError), REFRESH_MS);
}

function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  const light = document.documentElement.dataset.theme === "light"
    || (!theme && matchMedia("(prefers-color-scheme: light)").matches);
  $("theme").textContent = light ? "Dark" : "Light";
}

$("theme").onclick = () => {
  const next = $("theme").textContent === "Light" ? "light" : "dark";
  localStorage.setItem("osprey-theme", next);
  applyTheme(next);
  if (location.hash.startsWith("#/graph")) { current = null; render(); }
};
applyTheme(localStorage.getItem("osprey-theme"));
window.addEventListener("hashchange", render);
render();
