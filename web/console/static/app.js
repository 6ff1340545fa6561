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
  const sent = { "X-Pnil-Client": "console", ...headers };
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
  // Anonymous local access is never admin: Operations then asks for the operator's admin key.
  document.getElementById("nav-operations").hidden = !(me.admin || me.anonymous);
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
          <td>${compileBadge(f.status)}</td><td>${badge(f.state)}</td><td>${esc(f.language)}</td>
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
      </div>
      <div class="editor" id="new-source"></div>
      ${settingsForm()}
      <div class="row"><button class="primary" type="submit">Create</button></div>
      <div id="create-result"></div>
    </form>`;
  let code = editor(document.getElementById("new-source"), { doc: STARTERS.javascript, language: "javascript" });
  wireSettings();
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
      ...readSettings(),
    };
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
  const tabs = ["code", "run", "executions", "versions", "settings"];
  main.innerHTML = `
    <h1><span>${esc(fn.name)}</span> <span id="fn-status">${compileBadge(fn.status)}</span>
      <span id="fn-state">${badge(fn.state)}</span> <span class="muted">v<span id="fn-version">${fn.version}</span></span></h1>
    <p id="fn-pending">${pendingNote(fn)}</p>
    <div class="row" id="lifecycle"></div>
    <nav class="tabs">${tabs.map((t) => `<a href="#/f/${encodeURIComponent(fn.name)}/${t}" class="${t === tab ? "active" : ""}">${t[0].toUpperCase() + t.slice(1)}</a>`).join("")}</nav>
    <div id="tab"></div>`;
  const render = (updated) => {
    fn = updated;
    document.getElementById("fn-status").innerHTML = compileBadge(fn.status);
    document.getElementById("fn-pending").innerHTML = pendingNote(fn);
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
  else if (tab === "settings") await settingsTab(fn, render);
  else codeTab(fn, render);
}

// A staged version (a safe save) that did not compile: the version that serves keeps serving.
function pendingNote(fn) {
  const pending = fn.pendingVersion;
  if (!pending) return "";
  if (pending.status === "FAILED") {
    return `<span class="error" id="pending-failed">version ${pending.version} failed to compile; version ${fn.version} is still serving</span>`;
  }
  return `<span class="muted">version ${pending.version} is compiling; version ${fn.version} serves until it is ready</span>`;
}

const compiling = (fn) => ["PENDING", "COMPILING"].includes(fn.status) || (fn.pendingVersion && fn.pendingVersion.status === "PENDING");

async function waitSettled(fn, render, mine) {
  while (mine === generation && compiling(fn)) {
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
  // What the editor holds now: marks go only where its own compile error points.
  let edited = false;
  const show = (current) => {
    const state = document.getElementById("compile-state");
    const error = document.getElementById("compile-error");
    if (!state) return;
    const pending = current.pendingVersion;
    const failure = pending && pending.status === "FAILED" ? pending.compileError
      : current.status === "FAILED" ? current.compileError : null;
    state.textContent = compiling(current) ? "compiling…" : failure ? "" : "compiled";
    error.innerHTML = failure
      ? `<div class="panel"><strong>Compile error${pending && pending.status === "FAILED" ? ` in version ${pending.version}` : ""}</strong>
          <pre class="error" id="compile-message">${esc(failure)}</pre></div>`
      : "";
    code.mark(failure && (edited || !pending) ? positions(failure) : []);
  };
  show(fn);
  waitSettled(fn, (updated) => { render(updated); show(updated); }, mine);
  document.getElementById("save").addEventListener("click", async () => {
    const body = { source: code.getValue() };
    const change = document.getElementById("change").value.trim();
    if (change) body.changeDescription = change;
    try {
      // The safe path: the new source serves only once it compiled.
      const updated = await api("POST", `${fnPath(fn.id)}/versions`, body);
      edited = true;
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
  const chain = await api("GET", `/executions?firstAttemptId=${encodeURIComponent(e.firstAttemptId)}&limit=100`);
  if (mine !== generation) return;
  const finished = !["PENDING", "RUNNING"].includes(e.status);
  main.innerHTML = `<h1 id="execution-title">Execution ${badge(e.status)}</h1>
    <p><a href="#/f/${encodeURIComponent(e.functionId)}/executions">← the function's executions</a>
      ${e.replayOf ? ` · replay of <a href="#/e/${e.replayOf}">${esc(e.replayOf)}</a>` : ""}</p>
    <div class="row">
      <button type="button" id="replay" ${finished ? "" : "disabled"}>Replay</button>
      <button type="button" id="replay-latest" ${finished ? "" : "disabled"}>Replay with the latest version</button>
    </div>
    <div id="replay-result"></div>
    <h2>Attempts</h2>${attemptsTimeline(chain, e.id)}
    ${e.scheduledFor || e.expiresAt ? `<p class="muted" id="schedule-note">${e.scheduledFor ? `Not before ${esc(when(e.scheduledFor))}. ` : ""}${e.expiresAt ? `Expires ${esc(when(e.expiresAt))}.` : ""}</p>` : ""}
    ${executionDetails(e)}`;
  const replay = async (version) => {
    try {
      const queued = await api("POST", `/executions/${encodeURIComponent(e.id)}/replay`, { version });
      location.hash = `#/e/${queued.id}`;
    } catch (error) {
      document.getElementById("replay-result").innerHTML = problem(error);
    }
  };
  document.getElementById("replay").addEventListener("click", () => replay("same"));
  document.getElementById("replay-latest").addEventListener("click", () => replay("latest"));
}

// Every attempt of a retried execution, first first, with when it was due, ran and ended.
function attemptsTimeline(chain, current) {
  const attempts = [...chain].sort((a, b) => a.attempt - b.attempt);
  return `<ol class="timeline" id="attempts">${attempts.map((a) => `<li data-attempt="${a.attempt}" class="${a.id === current ? "current" : ""}">
      <a href="#/e/${a.id}">attempt ${a.attempt} of ${a.maxAttempts}</a> ${badge(a.status)}
      ${a.retried ? `<span class="muted">retried</span>` : ""}
      <span class="muted">${a.scheduledFor ? `due ${esc(when(a.scheduledFor))} · ` : ""}${a.startedAt ? `started ${esc(when(a.startedAt))}` : "not started"}${a.completedAt ? ` · ended ${esc(when(a.completedAt))}` : ""}</span>
      ${a.errorMessage ? `<div class="error">${esc(a.errorMessage.split("\n")[0])}</div>` : ""}
    </li>`).join("")}</ol>`;
}

// The user's dead letters: queued executions that failed for good; replay several at once.
async function failedPage() {
  const mine = generation;
  const rows = await api("GET", "/executions?final=true&limit=200");
  if (mine !== generation) return;
  main.innerHTML = `<h1>Failed executions</h1>
    <p class="muted">Queued executions that failed and will not be retried any more, newest first.</p>
    ${rows.length === 0 ? `<p class="muted" id="no-failures">None.</p>` : `
    <div class="row"><button type="button" id="replay-selected" class="primary">Replay selected</button>
      <label><input type="checkbox" id="replay-latest"> with the latest version</label></div>
    <div id="replay-results"></div>
    <table id="failed"><thead><tr><th><input type="checkbox" id="select-all" aria-label="select all"></th><th>Ended</th><th>Status</th><th>Function</th><th>Attempt</th><th>Error</th><th></th></tr></thead>
      <tbody>${rows.map((e) => `<tr data-execution="${e.id}"><td><input type="checkbox" name="pick" value="${e.id}"></td>
        <td>${esc(when(e.completedAt))}</td><td>${badge(e.status)}</td>
        <td><a href="#/f/${encodeURIComponent(e.functionId)}/executions">${esc(e.functionId.slice(0, 8))}</a></td>
        <td>${esc(e.attempt)}/${esc(e.maxAttempts)}</td><td>${esc((e.errorMessage || "").split("\n")[0].slice(0, 120))}</td>
        <td><a href="#/e/${e.id}">details</a></td></tr>`).join("")}</tbody></table>`}`;
  if (rows.length === 0) return;
  document.getElementById("select-all").addEventListener("change", (event) => {
    main.querySelectorAll("input[name=pick]").forEach((box) => { box.checked = event.target.checked; });
  });
  document.getElementById("replay-selected").addEventListener("click", async () => {
    const picked = [...main.querySelectorAll("input[name=pick]:checked")].map((box) => box.value);
    const version = document.getElementById("replay-latest").checked ? "latest" : "same";
    const results = await Promise.all(picked.map((id) => api("POST", `/executions/${id}/replay`, { version })
      .then((queued) => `<li>${esc(id.slice(0, 8))} → <a href="#/e/${queued.id}" data-replay="${queued.id}">${esc(queued.id)}</a></li>`)
      .catch((error) => `<li class="error">${esc(id.slice(0, 8))}: ${esc(error.message)}</li>`)));
    if (mine !== generation) return;
    document.getElementById("replay-results").innerHTML = `<ul id="replayed">${results.join("")}</ul>`;
  });
}

// Values go in only: the API never answers one, so the page never shows one.
async function secretsPage() {
  const mine = generation;
  main.innerHTML = `<h1>Secrets</h1>
    <p class="muted">Functions read the secrets they declare (<code>"secrets": ["NAME"]</code>) with
      <code>pnil.secrets.get("NAME")</code>. A value is never shown again; wherever a run puts it,
      pnil stores <code>[secret NAME]</code> instead.</p>
    <form class="panel" id="secret-form">
      <input id="secret-name" placeholder="NAME" required pattern="[A-Za-z_][A-Za-z0-9_]{0,127}">
      <input id="secret-value" type="password" autocomplete="off" placeholder="value" required>
      <button class="primary" type="submit">Set</button>
    </form>
    <div id="secret-problem"></div><div id="secrets"><p class="muted">Loading…</p></div>`;
  const show = async () => {
    const found = await api("GET", "/secrets");
    if (mine !== generation) return;
    document.getElementById("secrets").innerHTML = found.length === 0 ? `<p class="muted">None yet.</p>`
      : `<table id="secret-table"><thead><tr><th>Name</th><th>Version</th><th>Updated</th><th></th></tr></thead><tbody>
        ${found.map((s) => `<tr data-secret="${esc(s.name)}"><td><code>${esc(s.name)}</code></td><td>${s.version}</td>
          <td>${esc(when(s.updatedAt))}</td><td><button type="button" data-delete="${esc(s.name)}">Delete</button></td></tr>`).join("")}
        </tbody></table>`;
    for (const button of document.querySelectorAll("[data-delete]")) {
      button.addEventListener("click", async () => {
        if (!confirm(`Delete secret ${button.dataset.delete}? Functions that declare it fail to read it.`)) return;
        await api("DELETE", `/secrets/${encodeURIComponent(button.dataset.delete)}`);
        await show();
      });
    }
  };
  document.getElementById("secret-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = document.getElementById("secret-name").value.trim();
    const value = document.getElementById("secret-value");
    try {
      await api("PUT", `/secrets/${encodeURIComponent(name)}`, { value: value.value });
      value.value = "";
      document.getElementById("secret-problem").innerHTML = "";
      await show();
    } catch (error) {
      if (mine === generation) document.getElementById("secret-problem").innerHTML = problem(error);
    }
  });
  await show();
}

function adminKeyForm() {
  main.innerHTML = `<h1>Operations</h1>
    <form class="panel signin" id="admin-signin">
      <p>Operations need an admin key. <code>make run</code> keeps the local operator's key in
        <code>.pnil/admin-key</code> (it prints where when it starts). It is kept in this browser tab only.</p>
      <input id="admin-key" type="password" autocomplete="off" placeholder="pnil_…" required>
      <button class="primary" type="submit">Use this key</button>
    </form>`;
  document.getElementById("admin-signin").addEventListener("submit", async (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, document.getElementById("admin-key").value.trim());
    if (await identify()) route();
  });
}

async function operationsPage() {
  const mine = generation;
  if (!me.admin) return adminKeyForm();
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

// -- workflows ---------------------------------------------------------------------------------
const ACTIVE_RUN = ["PENDING", "RUNNING"];
const shortId = (id) => esc(String(id).slice(0, 8));

async function workflowsPage() {
  const mine = generation;
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const status = params.get("status") || "";
  main.innerHTML = `<h1>Workflows</h1>
    <h2>Runs</h2>
    <div class="row"><select id="run-status"><option value="">any status</option>
      ${["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"].map((s) => `<option ${status === s ? "selected" : ""}>${s}</option>`).join("")}
    </select></div>
    <div id="runs"><p class="muted">Loading…</p></div>
    <h2>Named workflows</h2><div id="named"><p class="muted">Loading…</p></div>`;
  document.getElementById("run-status").addEventListener("change", (event) => {
    location.hash = `#/w?status=${event.target.value}`;
  });
  const query = new URLSearchParams({ limit: "100" });
  if (status) query.set("status", status);
  const [runs, named] = await Promise.all([api("GET", `/workflows/runs?${query}`), api("GET", "/workflows")]);
  if (mine !== generation) return;
  document.getElementById("runs").innerHTML = runs.length === 0 ? `<p class="muted">No runs.</p>`
    : `<table id="runs-table"><thead><tr><th>Run</th><th>Status</th><th>Workflow</th><th>Trigger</th><th>Created</th></tr></thead>
      <tbody>${runs.map((r) => `<tr data-run="${esc(r.id)}"><td><a href="#/r/${esc(r.id)}">${shortId(r.id)}</a></td>
        <td>${badge(r.status)}</td><td>${esc(r.workflowName ?? "")}${r.workflowVersion ? ` v${esc(r.workflowVersion)}` : ""}</td>
        <td>${esc(r.triggerType)}</td><td>${esc(when(r.createdAt))}</td></tr>`).join("")}</tbody></table>`;
  document.getElementById("named").innerHTML = named.length === 0
    ? `<p class="muted">None yet: <code>PUT /workflows/{name}</code> or <code>pnil workflow deploy</code>.</p>`
    : `<table id="workflows-table"><thead><tr><th>Name</th><th>Version</th><th>Trigger</th><th>State</th></tr></thead>
      <tbody>${named.map((w) => `<tr><td><a href="#/wf/${encodeURIComponent(w.name)}">${esc(w.name)}</a></td>
        <td>${esc(w.version)}</td><td>${esc(w.type)}</td><td>${badge(w.state)}</td></tr>`).join("")}</tbody></table>`;
}

function treeHtml(node) {
  if (node.kind === "function") {
    const took = node.durationMs != null ? ` · ${node.durationMs.toFixed(1)} ms` : "";
    const link = node.executionId ? ` <a href="#/e/${esc(node.executionId)}">execution</a>` : "";
    const tries = node.attempts > 1 ? ` · ${esc(node.attempts)} attempts` : "";
    return `<li class="step" data-path="${esc(node.path)}">${esc(node.functionName ?? node.functionId)} ${badge(node.status)}${esc(took)}${tries}${link}</li>`;
  }
  if (node.kind === "chord") {
    return `<li>chord<ul>${treeHtml(node.group)}</ul>then<ul>${treeHtml(node.then)}</ul></li>`;
  }
  return `<li>${esc(node.kind)}<ul>${node.steps.map(treeHtml).join("")}</ul></li>`;
}

async function runPage(id) {
  const mine = generation;
  for (;;) {
    const run = await api("GET", `/workflows/runs/${encodeURIComponent(id)}`);
    if (mine !== generation) return;
    const active = ACTIVE_RUN.includes(run.status);
    main.innerHTML = `<h1 id="run-title">Workflow run ${badge(run.status)}</h1>
      <p><a href="#/w">← runs</a>${run.workflowName ? ` · <a href="#/wf/${encodeURIComponent(run.workflowName)}">${esc(run.workflowName)}</a> v${esc(run.workflowVersion)}` : ""}</p>
      ${active ? `<button id="cancel-run" type="button">Cancel run</button>` : ""}
      <dl><dt>Run</dt><dd>${esc(run.id)}</dd><dt>Created</dt><dd>${esc(when(run.createdAt))}</dd>
        <dt>Started</dt><dd>${esc(when(run.startedAt))}</dd><dt>Ended</dt><dd>${esc(when(run.completedAt))}</dd></dl>
      ${run.error ? `<p class="error" id="run-error">${esc(run.error)}</p>` : ""}
      <h2>Steps</h2><ul id="tree" class="tree">${treeHtml(run.tree)}</ul>
      ${run.onFailureTree ? `<h2>onFailure</h2><ul class="tree">${treeHtml(run.onFailureTree)}</ul>` : ""}
      <h2>Input</h2><pre id="run-input">${esc(pretty(run.input))}</pre>
      <h2>Output</h2><pre id="run-output">${esc(pretty(run.output))}</pre>`;
    if (active) {
      document.getElementById("cancel-run").addEventListener("click", async () => {
        try {
          await api("POST", `/workflows/runs/${encodeURIComponent(id)}/cancel`);
        } catch (error) {
          if (error.status !== 409) throw error;
        }
        if (mine === generation) route();
      });
    }
    if (!active && !(run.onFailureTree && ACTIVE_RUN.includes(run.onFailureTree.status))) return;
    await sleep(1000);
    if (mine !== generation) return;
  }
}

async function workflowPage(name) {
  const mine = generation;
  const path = `/workflows/${encodeURIComponent(name)}`;
  const [wf, versions] = await Promise.all([api("GET", path), api("GET", `${path}/versions`)]);
  if (mine !== generation) return;
  main.innerHTML = `<h1 id="workflow-title">${esc(wf.name)} <span class="muted">v${esc(wf.version)}</span></h1>
    <p><a href="#/w">← workflows</a> · ${esc(wf.type)}${wf.cronExpression ? ` <code>${esc(wf.cronExpression)}</code>` : ""}
      ${wf.eventTypes && wf.eventTypes.length ? ` on ${esc(wf.eventTypes.join(", "))}` : ""}</p>
    <h2>Canvas</h2><pre id="canvas">${esc(pretty({ steps: wf.steps, onFailure: wf.onFailure ?? undefined }))}</pre>
    <h2>Versions</h2><table id="workflow-versions"><thead><tr><th>Version</th><th>Change</th><th>By</th><th>Created</th><th>Canvas</th></tr></thead>
    <tbody>${versions.map((v) => `<tr data-version="${esc(v.number)}"><td>${esc(v.number)}</td><td>${esc(v.changeDescription ?? "")}</td>
      <td>${esc(v.createdBy ?? "")}</td><td>${esc(when(v.createdAt))}</td>
      <td><details><summary>JSON</summary><pre>${esc(pretty(v.steps))}</pre></details></td></tr>`).join("")}</tbody></table>`;
}

// -- routing -----------------------------------------------------------------------------------
async function route() {
  const mine = ++generation;
  if (!me) return;
  const [path] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === "new") newPage();
    else if ((parts[0] === "f" || parts[0] === "functions") && parts[1]) await functionPage(parts[1], parts[2] || "code");
    else if (parts[0] === "e" && parts[1]) await executionPage(parts[1]);
    else if (parts[0] === "operations") await operationsPage();
    else if (parts[0] === "secrets") await secretsPage();
    else if (parts[0] === "failed") await failedPage();
    else if (parts[0] === "w") await workflowsPage();
    else if (parts[0] === "r" && parts[1]) await runPage(parts[1]);
    else if (parts[0] === "wf" && parts[1]) await workflowPage(parts[1]);
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
