// pnil console: a small single-page app over pnil's own REST API (no other hosts).
// The API key lives in sessionStorage and travels only as an Authorization header.
"use strict";

const KEY = "pnil.apiKey";
const main = document.getElementById("main");
let me = null; // GET /whoami
let generation = 0; // bumped on every page change: stale loops and timers stop
const STATE_ACTIONS = { ACTIVE: "Activate", PAUSED: "Pause", DISABLED: "Disable", ARCHIVED: "Archive" };

// -- helpers ---------------------------------------------------------------------------------
function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
const badge = (text) => `<span class="badge ${esc(text)}" data-badge="${esc(text)}">${esc(text)}</span>`;
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
const ms = (metrics) => (metrics && metrics.durationMs != null ? `${metrics.durationMs.toFixed(1)} ms` : "");
const pretty = (value) => JSON.stringify(value, null, 2);
const fnPath = (name) => `/functions/${encodeURIComponent(name)}`;
const sleep = (t) => new Promise((resolve) => setTimeout(resolve, t));

class ApiError extends Error {
  constructor(status, data) {
    super((data && data.message) || `HTTP ${status}`);
    this.status = status;
    this.data = data;
  }
}

async function api(method, path, body, headers = {}) {
  const key = sessionStorage.getItem(KEY);
  const sent = { ...headers };
  if (key) sent.Authorization = `Bearer ${key}`;
  if (body !== undefined) sent["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401) showSignIn(data && data.message);
    throw new ApiError(response.status, data);
  }
  return data;
}

function problem(error) {
  const details = error.data && error.data.errors ? `\n${pretty(error.data.errors)}` : "";
  return `<p class="error" role="alert">${esc(error.message + details)}</p>`;
}

// "input.ts(2,16)" from asc, "line 3, column 14" from the JavaScript check.
function positions(message) {
  const found = [];
  for (const m of message.matchAll(/input\.ts\((\d+),(\d+)\)/g)) found.push({ line: +m[1], column: +m[2] });
  for (const m of message.matchAll(/line (\d+), column (\d+)/g)) found.push({ line: +m[1], column: +m[2] });
  const end = message.match(/end of input at line (\d+)/);
  if (end) found.push({ line: +end[1], column: 1 });
  return found.map((p) => ({ ...p, message }));
}

function editor(element, options) {
  return window.PnilEditor.create(element, options);
}

// -- sign in -----------------------------------------------------------------------------------
function showSignIn(reason) {
  generation++;
  main.innerHTML = `
    <form class="panel signin" id="signin">
      <h1>Sign in</h1>
      <p class="muted">Paste an API key (create one with <code>pnil keys create TENANT</code> or
        <code>python -m web.keys create TENANT</code>). It is kept in this browser tab only.</p>
      ${reason ? `<p class="error">${esc(reason)}</p>` : ""}
      <input id="api-key" type="password" autocomplete="off" placeholder="pnil_…" required>
      <button class="primary" type="submit">Sign in</button>
    </form>`;
  document.getElementById("signin").addEventListener("submit", async (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, document.getElementById("api-key").value.trim());
    if (await identify()) {
      if (location.hash === "" || location.hash === "#/") route();
      else location.hash = "#/";
    }
  });
}

async function identify() {
  try {
    me = await api("GET", "/whoami");
  } catch (error) {
    if (error.status !== 401) main.innerHTML = problem(error);
    return false;
  }
  document.getElementById("who").textContent = `tenant ${me.tenant}${me.admin ? " (admin)" : ""}`;
  document.getElementById("nav-operations").hidden = !me.admin;
  document.getElementById("sign-out").hidden = !sessionStorage.getItem(KEY);
  return true;
}

document.getElementById("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  me = null;
  document.getElementById("who").textContent = "";
  document.getElementById("sign-out").hidden = true;
  start();
});

// -- pages -------------------------------------------------------------------------------------
async function functionsPage() {
  const mine = generation;
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  main.innerHTML = `
    <h1>Functions</h1>
    <div class="row">
      <input id="filter-name" placeholder="search by name" value="${esc(params.get("name") || "")}">
      <select id="filter-state"><option value="">any state</option>
        ${["DRAFT", "ACTIVE", "PAUSED", "DISABLED", "ARCHIVED"].map((s) => `<option ${params.get("state") === s ? "selected" : ""}>${s}</option>`).join("")}
      </select>
      <a href="#/new"><button class="primary" type="button">New function</button></a>
    </div>
    <div id="list"><p class="muted">Loading…</p></div>`;
  const apply = () => {
    const query = new URLSearchParams();
    const name = document.getElementById("filter-name").value.trim();
    const state = document.getElementById("filter-state").value;
    if (name) query.set("name", name);
    if (state) query.set("state", state);
    location.hash = `#/?${query}`;
  };
  document.getElementById("filter-name").addEventListener("change", apply);
  document.getElementById("filter-state").addEventListener("change", apply);
  const query = new URLSearchParams({ limit: "200" });
  for (const k of ["name", "state"]) if (params.get(k)) query.set(k, params.get(k));
  const functions = await api("GET", `/functions?${query}`);
  if (mine !== generation) return;
  const last = await Promise.all(
    functions.map((f) => api("GET", `${fnPath(f.id)}/executions?limit=1`).then((e) => e[0]).catch(() => null)),
  );
  if (mine !== generation) return;
  document.getElementById("list").innerHTML = functions.length === 0
    ? `<p class="muted">No functions yet. <a href="#/new">Create one</a>.</p>`
    : `<table id="functions"><thead><tr><th>Name</th><th>Status</th><th>State</th><th>Language</th>
        <th>Trigger</th><th>Version</th><th>Last execution</th></tr></thead><tbody>
        ${functions.map((f, i) => `<tr data-name="${esc(f.name)}">
          <td><a href="#/f/${encodeURIComponent(f.name)}">${esc(f.name)}</a></td>
          <td>${badge(f.status)}</td><td>${badge(f.state)}</td><td>${esc(f.language)}</td>
          <td>${esc(f.type)}</td><td>${f.version}</td>
          <td>${last[i] ? `${badge(last[i].status)} <span class="muted">${esc(when(last[i].createdAt))}</span>` : ""}</td>
        </tr>`).join("")}</tbody></table>`;
}

const STARTERS = {
  javascript: "function handle(input, context) {\n  console.log('hello from', context.trigger.type);\n  return { hello: input.name ?? 'world' };\n}\n",
  assemblyscript: 'export function handle(input: string): string {\n  return input;\n}\n',
  python: "def handle(input, context=None):\n    print('hello from', context['trigger']['type'])\n    return {'hello': input.get('name', 'world')}\n",
};

function newPage() {
  main.innerHTML = `
    <h1>New function</h1>
    <form id="create" class="panel">
      <div class="row">
        <input id="new-name" placeholder="name" required>
        <select id="new-language"><option value="javascript">JavaScript</option>
          <option value="assemblyscript">AssemblyScript</option>
          <option value="python">Python</option></select>
        <input id="new-cron" placeholder="cron (optional), e.g. */5 * * * *">
      </div>
      <div class="editor" id="new-source"></div>
      <div class="row"><button class="primary" type="submit">Create</button></div>
      <div id="create-result"></div>
    </form>`;
  let code = editor(document.getElementById("new-source"), { doc: STARTERS.javascript, language: "javascript" });
  document.getElementById("new-language").addEventListener("change", (event) => {
    const language = event.target.value;
    const element = document.getElementById("new-source");
    element.innerHTML = "";
    code = editor(element, { doc: STARTERS[language], language });
  });
  document.getElementById("create").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      name: document.getElementById("new-name").value.trim(),
      language: document.getElementById("new-language").value,
      source: code.getValue(),
    };
    const cron = document.getElementById("new-cron").value.trim();
    if (cron) Object.assign(body, { type: "SCHEDULED", cronExpression: cron });
    try {
      const fn = await api("POST", "/functions", body);
      location.hash = `#/f/${encodeURIComponent(fn.name)}`;
    } catch (error) {
      document.getElementById("create-result").innerHTML = problem(error);
    }
  });
}

async function functionPage(name, tab) {
  const mine = generation;
  let fn = await api("GET", fnPath(name));
  if (mine !== generation) return;
  const tabs = ["code", "run", "executions", "versions"];
  main.innerHTML = `
    <h1><span>${esc(fn.name)}</span> <span id="fn-status">${badge(fn.status)}</span>
      <span id="fn-state">${badge(fn.state)}</span> <span class="muted">v<span id="fn-version">${fn.version}</span></span></h1>
    <div class="row" id="lifecycle"></div>
    <nav class="tabs">${tabs.map((t) => `<a href="#/f/${encodeURIComponent(name)}/${t}" class="${t === tab ? "active" : ""}">${t[0].toUpperCase() + t.slice(1)}</a>`).join("")}</nav>
    <div id="tab"></div>`;
  const render = (updated) => {
    fn = updated;
    document.getElementById("fn-status").innerHTML = badge(fn.status);
    document.getElementById("fn-state").innerHTML = badge(fn.state);
    document.getElementById("fn-version").textContent = fn.version;
    renderLifecycle();
  };
  const renderLifecycle = () => {
    const box = document.getElementById("lifecycle");
    box.innerHTML = fn.allowedTransitions.map((s) => `<button type="button" data-state="${s}">${STATE_ACTIONS[s] || s}</button>`).join("")
      + `<button type="button" class="danger" id="delete">Delete</button><span id="lifecycle-result"></span>`;
    box.querySelectorAll("button[data-state]").forEach((button) => button.addEventListener("click", async () => {
      try {
        render(await api("POST", `${fnPath(fn.id)}/state`, { state: button.dataset.state }));
        if (tab === "run") runButtons(fn);
      } catch (error) {
        document.getElementById("lifecycle-result").innerHTML = problem(error);
      }
    }));
    document.getElementById("delete").addEventListener("click", async () => {
      if (!confirm(`Delete ${fn.name} with all its versions and executions?`)) return;
      await api("DELETE", fnPath(fn.id));
      location.hash = "#/";
    });
  };
  renderLifecycle();
  if (mine !== generation) return;
  // The header follows a compile in progress on every tab (the code tab shows it in detail).
  if (tab !== "code") waitSettled(fn, (updated) => { render(updated); if (tab === "run") runButtons(updated); }, mine);
  if (tab === "run") runTab(fn, render);
  else if (tab === "executions") await executionsTab(fn);
  else if (tab === "versions") await versionsTab(fn, render);
  else codeTab(fn, render);
}

async function waitSettled(fn, render, mine) {
  while (mine === generation && (fn.status === "PENDING" || fn.status === "COMPILING")) {
    await sleep(250);
    fn = await api("GET", fnPath(fn.id));
    if (mine !== generation) break;
    render(fn);
  }
  return fn;
}

function codeTab(fn, render) {
  const mine = generation;
  const box = document.getElementById("tab");
  box.innerHTML = `
    <div class="editor" id="source"></div>
    <div class="row">
      <input id="change" placeholder="what changed (optional)" size="40">
      <button class="primary" id="save" type="button">Save</button>
      <span id="compile-state" class="muted"></span>
    </div>
    <div id="compile-error"></div>`;
  const code = editor(document.getElementById("source"), { doc: fn.source, language: fn.language === "wasm" ? "json" : fn.language });
  const show = (current) => {
    const state = document.getElementById("compile-state");
    const error = document.getElementById("compile-error");
    if (!state) return;
    state.textContent = current.status === "READY" ? "compiled" : current.status === "FAILED" ? "" : "compiling…";
    error.innerHTML = current.status === "FAILED" && current.compileError
      ? `<div class="panel"><strong>Compile error</strong><pre class="error" id="compile-message">${esc(current.compileError)}</pre></div>`
      : "";
    code.mark(current.status === "FAILED" && current.compileError ? positions(current.compileError) : []);
  };
  show(fn);
  waitSettled(fn, (updated) => { render(updated); show(updated); }, mine);
  document.getElementById("save").addEventListener("click", async () => {
    const body = { source: code.getValue() };
    const change = document.getElementById("change").value.trim();
    if (change) body.changeDescription = change;
    try {
      const updated = await api("PUT", fnPath(fn.id), body);
      render(updated);
      show(updated);
      await waitSettled(updated, (u) => { render(u); show(u); }, mine);
    } catch (error) {
      document.getElementById("compile-error").innerHTML = problem(error);
    }
  });
}

function notRunnable(fn) {
  if (fn.state !== "ACTIVE") return `${fn.name} is ${fn.state}: activate it to run it`;
  if (fn.status !== "READY") return `${fn.name} is ${fn.status}, not READY: it runs once it compiled`;
  return null;
}

function runButtons(fn) {
  const reason = notRunnable(fn);
  for (const id of ["run", "run-async"]) {
    const button = document.getElementById(id);
    if (button) button.disabled = Boolean(reason);
  }
  const refused = document.getElementById("run-refused");
  if (refused) refused.textContent = reason || "";
}

function runTab(fn, render) {
  const box = document.getElementById("tab");
  const reason = notRunnable(fn);
  box.innerHTML = `
    <div class="editor small" id="input"></div>
    <div class="row">
      <button class="primary" id="run" type="button" ${reason ? "disabled" : ""}>Run</button>
      <button id="run-async" type="button" ${reason ? "disabled" : ""}>Run async</button>
      <span id="run-refused" class="error">${esc(reason || "")}</span>
    </div>
    <div id="result"></div>`;
  const input = editor(document.getElementById("input"), { doc: "{}", language: "json" });
  const run = async (queued) => {
    const out = document.getElementById("result");
    let value;
    try {
      value = JSON.parse(input.getValue());
    } catch (error) {
      out.innerHTML = `<p class="error" role="alert">the input is not JSON: ${esc(error.message)}</p>`;
      return;
    }
    out.innerHTML = `<p class="muted">Running…</p>`;
    try {
      let execution = await api("POST", `${fnPath(fn.id)}/${queued ? "executions" : "execute"}`, { input: value });
      const mine = generation;
      while (queued && mine === generation && ["PENDING", "RUNNING"].includes(execution.status)) {
        await sleep(200);
        execution = await api("GET", `/executions/${execution.id}`);
      }
      out.innerHTML = executionDetails(execution);
    } catch (error) {
      out.innerHTML = problem(error);
    }
  };
  document.getElementById("run").addEventListener("click", () => run(false));
  document.getElementById("run-async").addEventListener("click", () => run(true));
}

function executionDetails(e) {
  const metrics = e.metrics || {};
  return `<div class="panel" id="execution">
    <dl>
      <dt>Status</dt><dd>${badge(e.status)}</dd>
      <dt>Execution</dt><dd><a href="#/e/${e.id}">${esc(e.id)}</a></dd>
      <dt>Trigger</dt><dd>${esc(e.triggerType)} · version ${esc(e.functionVersion)}</dd>
      <dt>Duration</dt><dd id="duration">${esc(ms(metrics))}</dd>
      <dt>Memory</dt><dd>${metrics.memoryPeakBytes != null ? `${(metrics.memoryPeakBytes / 1048576).toFixed(1)} MiB` : ""}</dd>
      <dt>Host API calls</dt><dd>${esc(metrics.apiCallCount ?? 0)}</dd>
      <dt>Created</dt><dd>${esc(when(e.createdAt))}</dd>
      <dt>Started</dt><dd>${esc(when(e.startedAt))}</dd>
      <dt>Completed</dt><dd>${esc(when(e.completedAt))}</dd>
    </dl>
    <h2>Input</h2><pre id="execution-input">${esc(pretty(e.input))}</pre>
    ${e.status === "COMPLETED" ? `<h2>Output</h2><pre id="output">${esc(pretty(e.output))}</pre>` : ""}
    ${e.errorMessage ? `<h2>Error</h2><pre class="error" id="error">${esc(e.errorMessage)}</pre>` : ""}
    <h2>Logs</h2><pre id="logs">${esc(e.logs || "")}</pre>
  </div>`;
}

async function executionsTab(fn) {
  const box = document.getElementById("tab");
  const status = new URLSearchParams(location.hash.split("?")[1] || "").get("status") || "";
  box.innerHTML = `<div class="row"><select id="exec-status"><option value="">any status</option>
      ${["PENDING", "RUNNING", "COMPLETED", "FAILED", "TIMEOUT", "CANCELLED"].map((s) => `<option ${s === status ? "selected" : ""}>${s}</option>`).join("")}
    </select></div><div id="executions"></div>`;
  document.getElementById("exec-status").addEventListener("change", (event) => {
    location.hash = `#/f/${encodeURIComponent(fn.name)}/executions?status=${event.target.value}`;
  });
  const query = new URLSearchParams({ limit: "100" });
  if (status) query.set("status", status);
  const mine = generation;
  const rows = await api("GET", `${fnPath(fn.id)}/executions?${query}`);
  if (mine !== generation) return;
  document.getElementById("executions").innerHTML = rows.length === 0 ? `<p class="muted">No executions.</p>`
    : `<table><thead><tr><th>Created</th><th>Status</th><th>Trigger</th><th>Version</th><th>Duration</th><th></th></tr></thead>
      <tbody>${rows.map((e) => `<tr><td>${esc(when(e.createdAt))}</td><td>${badge(e.status)}</td><td>${esc(e.triggerType)}</td>
        <td>${esc(e.functionVersion)}</td><td>${esc(ms(e.metrics))}</td><td><a href="#/e/${e.id}">details</a></td></tr>`).join("")}
      </tbody></table>`;
}

function diffHtml(text) {
  if (!text) return `<p class="muted">No differences.</p>`;
  return `<pre class="diff" id="diff">${text.split("\n").map((line) => {
    const kind = line.startsWith("@@") ? "hunk" : line.startsWith("+") && !line.startsWith("+++") ? "add"
      : line.startsWith("-") && !line.startsWith("---") ? "del" : "";
    return `<span class="${kind}">${esc(line)}</span>`;
  }).join("\n")}</pre>`;
}

async function versionsTab(fn, render) {
  const mine = generation;
  const versions = await api("GET", `${fnPath(fn.id)}/versions`);
  if (mine !== generation) return;
  const box = document.getElementById("tab");
  box.innerHTML = `
    <table><thead><tr><th>A</th><th>B</th><th>Version</th><th>Compile</th><th>Created</th><th>By</th><th>Change</th><th></th></tr></thead>
    <tbody>${versions.map((v, i) => `<tr data-version="${v.number}">
      <td><input type="radio" name="a" value="${v.number}" ${i === 1 ? "checked" : ""}></td>
      <td><input type="radio" name="b" value="${v.number}" ${i === 0 ? "checked" : ""}></td>
      <td>${v.number}${v.number === fn.version ? " (current)" : ""}</td><td>${badge(v.status || "")}</td>
      <td>${esc(when(v.createdAt))}</td><td>${esc(v.createdBy)}</td><td>${esc(v.changeDescription)}</td>
      <td>${v.number === fn.version ? "" : `<button type="button" data-rollback="${v.number}">Roll back to this</button>`}</td>
    </tr>`).join("")}</tbody></table>
    <div class="row"><button type="button" id="show-diff" ${versions.length < 2 ? "disabled" : ""}>Show diff A → B</button></div>
    <div id="diff-box"></div>`;
  document.getElementById("show-diff").addEventListener("click", async () => {
    const a = box.querySelector("input[name=a]:checked")?.value;
    const b = box.querySelector("input[name=b]:checked")?.value;
    if (!a || !b) return;
    const { diff } = await api("GET", `${fnPath(fn.id)}/versions/${a}/diff/${b}`);
    document.getElementById("diff-box").innerHTML = diffHtml(diff);
  });
  box.querySelectorAll("button[data-rollback]").forEach((button) => button.addEventListener("click", async () => {
    try {
      render(await api("POST", `${fnPath(fn.id)}/rollback`, { version: Number(button.dataset.rollback) }));
      await versionsTab(fn, render);
    } catch (error) {
      document.getElementById("diff-box").innerHTML = problem(error);
    }
  }));
}

async function executionPage(id) {
  const mine = generation;
  const e = await api("GET", `/executions/${encodeURIComponent(id)}`);
  if (mine !== generation) return;
  main.innerHTML = `<h1 id="execution-title">Execution ${badge(e.status)}</h1>
    <p><a href="#/f/${encodeURIComponent(e.functionId)}/executions">← the function's executions</a></p>
    ${executionDetails(e)}`;
}

async function operationsPage() {
  const mine = generation;
  main.innerHTML = `<h1>Operations</h1>
    <h2>Queues <span class="muted" id="queues-updated"></span></h2><div id="queues"></div>
    <h2>Scheduled functions</h2><div id="scheduled"></div>
    <h2>Storage</h2><div id="storage"></div>`;
  storageSection(mine);
  const scheduled = await api("GET", "/functions?type=SCHEDULED&limit=500");
  if (mine !== generation) return;
  document.getElementById("scheduled").innerHTML = scheduled.length === 0 ? `<p class="muted">None.</p>`
    : `<table id="schedule"><thead><tr><th>Function</th><th>Cron</th><th>Timezone</th><th>State</th><th>Next run</th><th>Last run</th></tr></thead>
      <tbody>${scheduled.map((f) => `<tr><td><a href="#/f/${encodeURIComponent(f.name)}">${esc(f.name)}</a></td>
        <td><code>${esc(f.cronExpression)}</code></td><td>${esc(f.timezone)}</td><td>${badge(f.state)}</td>
        <td>${esc(when(f.nextRunAt))}</td><td>${esc(when(f.lastRunAt))}</td></tr>`).join("")}</tbody></table>`;
  while (mine === generation) {
    try {
      const queues = await api("GET", "/admin/queues");
      if (mine !== generation) return;
      document.getElementById("queues").innerHTML = `<table id="queue-table"><thead><tr><th>Queue</th><th>Depth</th>
        <th>In flight</th><th>Oldest (s)</th><th>Sent</th><th>Dead letters</th></tr></thead><tbody>
        ${queues.map((q) => `<tr data-queue="${esc(q.queue)}"><td>${esc(q.queue)}</td><td>${q.depth}</td><td>${q.inFlight}</td>
          <td>${q.oldestMessageAgeSeconds ?? ""}</td><td>${q.totalSent}</td><td>${q.deadLettered}</td></tr>`).join("")}
        </tbody></table>`;
      document.getElementById("queues-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (mine === generation) document.getElementById("queues").innerHTML = problem(error);
      return;
    }
    await sleep(2000);
  }
}

const size = (n) => (n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB`
  : `${Math.round(n / 1024)} KiB`);

// What pnil holds (GET /admin/storage): read once per visit, it asks the catalog and samples tables.
async function storageSection(mine) {
  try {
    const s = await api("GET", "/admin/storage");
    if (mine !== generation) return;
    const last = s.lastPrune;
    const pruned = last ? `Last prune ${esc(when(last.finishedAt))}: ${Object.entries(last.removed)
      .map(([k, v]) => `${esc(k)} ${v}`).join(", ")}` : "No prune yet.";
    const tenants = Object.entries(s.tenants);
    document.getElementById("storage").innerHTML = `<p class="muted" id="last-prune">${pruned}</p>
      <table id="storage-table"><thead><tr><th>Table</th><th>Rows</th><th>Size</th><th>Partitions</th><th>Oldest row</th></tr></thead>
      <tbody>${s.tables.map((t) => `<tr data-table="${esc(t.table)}"><td>${esc(t.table)}</td><td>${t.rows}</td>
        <td>${size(t.bytes)}</td><td>${t.partitions}</td><td>${esc(when(t.oldestRowAt))}</td></tr>`).join("")}</tbody></table>
      <table id="tenant-storage"><thead><tr><th>Tenant</th><th>Executions</th><th>Events</th><th>Key-value</th></tr></thead>
      <tbody>${tenants.map(([name, t]) => `<tr data-tenant="${esc(name)}"><td>${esc(name)}</td>
        ${["executions", "events", "kv_entries"].map((k) => `<td>${t[k] ? `${t[k].rows} rows, ${size(t[k].bytes)}` : ""}</td>`).join("")}
        </tr>`).join("")}</tbody></table>`;
  } catch (error) {
    if (mine === generation) document.getElementById("storage").innerHTML = problem(error);
  }
}

// -- routing -----------------------------------------------------------------------------------
async function route() {
  const mine = ++generation;
  if (!me) return;
  const [path] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === "new") newPage();
    else if (parts[0] === "f" && parts[1]) await functionPage(parts[1], parts[2] || "code");
    else if (parts[0] === "e" && parts[1]) await executionPage(parts[1]);
    else if (parts[0] === "operations") await operationsPage();
    else await functionsPage();
  } catch (error) {
    // A page left while it loaded must not write over the one shown now.
    if (mine === generation && error.status !== 401) main.innerHTML = problem(error);
  }
}

async function start() {
  if (await identify()) route();
  else if (!me && main.querySelector("#signin") === null) showSignIn();
}

window.addEventListener("hashchange", route);
start();
