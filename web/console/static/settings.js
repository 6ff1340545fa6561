// pnil console: a function's settings (trigger with the cron's next runs, the HTTP URL with a copy
// button and the event types; allowed hosts, limits, retry policy, secrets, tags, description), shared by the
// new-function form and the Settings tab; and the compile-status badge. Loaded before app.js.
"use strict";

const TRIGGERS = ["ONEOFF", "SCHEDULED", "HTTP", "EVENT", "EMBEDDED"];
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const LIMITS = [
  ["maxExecutionTimeMs", "time (ms)", 30000],
  ["maxMemoryBytes", "memory (bytes)", 67108864],
  ["maxConcurrentRuns", "concurrent runs", 5],
  ["maxApiCallsPerMinute", "host API calls / min", 60],
  ["maxOutputSizeBytes", "output (bytes)", 1048576],
];
// A compile status reads differently from an execution's: "compiled" / "compile failed" next to
// COMPLETED / FAILED, and its badge is square.
const COMPILE_WORDS = { READY: "compiled", FAILED: "compile failed", PENDING: "waiting to compile", COMPILING: "compiling" };

function compileBadge(status) {
  const word = COMPILE_WORDS[status] || status;
  return `<span class="badge compile ${esc(status)}" data-badge="${esc(status)}" title="compile status ${esc(status)}">${esc(word)}</span>`;
}

const splitList = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);
const value = (id) => document.getElementById(id).value.trim();

function settingsForm(fn = {}) {
  const type = fn.type || "ONEOFF";
  const limits = fn.resourceLimits || {};
  const methods = fn.httpMethods || ["GET"];
  const retry = fn.retryPolicy || {};
  const numberField = (id, label, current, placeholder) =>
    `<label>${label} <input type="number" min="0" id="${id}" value="${esc(current ?? "")}" placeholder="${placeholder}"></label>`;
  const field = (id, label, current, placeholder = "") =>
    `<label>${label} <input id="${id}" value="${esc(current ?? "")}" placeholder="${esc(placeholder)}"></label>`;
  return `<fieldset class="settings panel" id="settings">
    <div class="row"><label>Trigger <select id="set-type">
      ${TRIGGERS.map((t) => `<option ${t === type ? "selected" : ""}>${t}</option>`).join("")}</select></label></div>
    <div class="trigger" data-for="SCHEDULED">
      <div class="row">${field("set-cron", "Cron", fn.cronExpression, "*/5 * * * *")}
        ${field("set-timezone", "Timezone", fn.timezone || "UTC")}</div>
      <div class="muted">Next runs:</div><ul id="next-runs"></ul>
    </div>
    <div class="trigger" data-for="HTTP">
      <div class="row">${field("set-http-path", "Path", fn.httpPath, "/hello")}
        ${METHODS.map((m) => `<label><input type="checkbox" name="set-method" value="${m}" ${methods.includes(m) ? "checked" : ""}> ${m}</label>`).join("")}
        <label>Callers <select id="set-http-auth">
          <option value="none" ${fn.httpAuth === "key" ? "" : "selected"}>anyone</option>
          <option value="key" ${fn.httpAuth === "key" ? "selected" : ""}>with an API key</option></select></label></div>
      <div class="row"><code id="http-url"></code> <button type="button" id="copy-url">Copy URL</button></div>
    </div>
    <div class="trigger row" data-for="EVENT">${field("set-events", "Event types", (fn.eventTypes || []).join(", "), "order.created, order.*")}</div>
    <div class="row">${field("set-hosts", "Allowed hosts", (fn.allowedHosts || []).join(", "), "api.example.com, *.example.org")}</div>
    <div class="row limits">${LIMITS.map(([key, label, fallback]) =>
      `<label>${label} <input type="number" min="1" id="limit-${key}" value="${esc(limits[key] ?? "")}" placeholder="${fallback}"></label>`).join("")}</div>
    <div class="row">${numberField("retry-maxAttempts", "Attempts (queued runs)", retry.maxAttempts, 1)}
      ${numberField("retry-initialDelayMs", "first retry after (ms)", retry.initialDelayMs, 1000)}
      ${field("set-secrets", "Secrets it may read", (fn.secrets || []).join(", "), "STRIPE_KEY")}</div>
    <div class="row">${field("set-tags", "Tags", (fn.tags || []).join(", "), "billing, nightly")}
      ${field("set-description", "Description", fn.description)}</div>
  </fieldset>`;
}

function wireSettings() {
  const type = document.getElementById("set-type");
  let timer = null;
  const preview = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const box = document.getElementById("next-runs");
      const cron = value("set-cron");
      if (!box || type.value !== "SCHEDULED" || !cron) return box && (box.innerHTML = "");
      const query = new URLSearchParams({ cron, timezone: value("set-timezone") || "UTC", count: "5" });
      try {
        const { nextRuns } = await api("GET", `/schedules/preview?${query}`);
        box.innerHTML = nextRuns.map((t) => `<li>${esc(when(t))}</li>`).join("");
      } catch (error) {
        box.innerHTML = `<li class="error">${esc(error.message)}</li>`;
      }
    }, 250);
  };
  const url = () => {
    const path = value("set-http-path");
    document.getElementById("http-url").textContent = path ? `${location.origin}/http/${me.tenant}${path}` : "";
  };
  const show = () => {
    document.querySelectorAll("#settings .trigger").forEach((el) => { el.hidden = el.dataset.for !== type.value; });
    preview();
    url();
  };
  type.addEventListener("change", show);
  for (const id of ["set-cron", "set-timezone"]) document.getElementById(id).addEventListener("input", preview);
  document.getElementById("set-http-path").addEventListener("input", url);
  document.getElementById("copy-url").addEventListener("click", async (event) => {
    const text = document.getElementById("http-url").textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const range = document.createRange();  // no clipboard API here: select it for Ctrl-C
      range.selectNodeContents(document.getElementById("http-url"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    }
    event.target.textContent = "Copied";
  });
  show();
}

// The API fields the form says (the trigger's own fields only for the chosen trigger).
function readSettings() {
  const body = { type: value("set-type") };
  if (body.type === "SCHEDULED") Object.assign(body, { cronExpression: value("set-cron"), timezone: value("set-timezone") || "UTC" });
  if (body.type === "HTTP") {
    const methods = [...document.querySelectorAll("input[name=set-method]:checked")].map((b) => b.value);
    Object.assign(body, { httpPath: value("set-http-path"), httpMethods: methods, httpAuth: value("set-http-auth") });
  }
  if (body.type === "EVENT") body.eventTypes = splitList(value("set-events"));
  body.allowedHosts = splitList(value("set-hosts"));
  body.tags = splitList(value("set-tags"));
  const description = value("set-description");
  if (description) body.description = description;
  const limits = {};
  for (const [key] of LIMITS) {
    const text = value(`limit-${key}`);
    if (text) limits[key] = Number(text);
  }
  if (Object.keys(limits).length) body.resourceLimits = limits;
  const retry = {};
  for (const key of ["maxAttempts", "initialDelayMs"]) {
    const text = value(`retry-${key}`);
    if (text) retry[key] = Number(text);
  }
  if (Object.keys(retry).length) body.retryPolicy = retry;
  body.secrets = splitList(value("set-secrets"));
  return body;
}

async function settingsTab(fn, render) {
  const box = document.getElementById("tab");
  box.innerHTML = `${settingsForm(fn)}
    <div class="row"><button class="primary" id="save-settings" type="button">Save settings</button>
      <span id="settings-result"></span></div>`;
  wireSettings();
  document.getElementById("save-settings").addEventListener("click", async () => {
    const result = document.getElementById("settings-result");
    try {
      render(await api("PUT", fnPath(fn.id), readSettings()));
      result.innerHTML = `<span class="muted" id="settings-saved">saved</span>`;
    } catch (error) {
      result.innerHTML = problem(error);
    }
  });
}
