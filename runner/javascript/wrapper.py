"""The JavaScript module that QuickJS evaluates around a user's source, and how to decode it.

The reactor exports no eval entry point, only ``qjs_init_argv``: a run is one
``qjs -m --memory-limit L --stack-size S -e WRAPPER``. The wrapper is a module so that
its top-level ``await`` makes QuickJS drive the job queue and timers until the user's
Promise settles. It evaluates the user's source as a classic (sloppy) script through an
indirect ``eval`` named ``<input>``, so line and column numbers are the source's own.

Channels: fd 1 carries the logs (``console.*`` and ``print``); fd 2 carries QuickJS's own
diagnostics, host API calls (``CALL_MARK + JSON + newline``, answered as one line on fd 0) and,
last, one envelope ``MARK + kind + payload`` with the result.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

MARK = "\x1epnil\x1e"
MARK_BYTES = MARK.encode()
# Starts a host API call on fd 2: CALL_MARK + {"op", "args"} + newline; the answer comes on fd 0.
CALL_MARK = "\x1epnil-call\x1e"
CALL_MARK_BYTES = CALL_MARK.encode()

# The appended expression gives back ``handle`` also when it is a top-level ``const``/``let``:
# lexical bindings of an indirect eval do not outlive it.
_HANDLE_PROBE = '\n;typeof handle === "function" ? handle : undefined'

_WRAPPER = r"""import * as std from 'qjs:std';
import * as os from 'qjs:os';
const out = std.out, err = std.err, stringify = JSON.stringify, parse = JSON.parse;
const MARK = %(mark)s, LIMIT = %(limit)d, LOG_LIMIT = %(log_limit)d;
let logged = 0;
function send(kind, text) { err.puts(MARK + kind + text); err.flush(); }
function show(v) {
  if (typeof v === 'string') return v;
  if (v instanceof Error) return v.stack ? String(v) + '\n' + v.stack.trimEnd() : String(v);
  if (v !== null && typeof v === 'object') { try { return stringify(v) ?? String(v); } catch (_) {} }
  try { return String(v); } catch (_) { return Object.prototype.toString.call(v); }
}
function log(...args) {
  // UTF-16 units never outnumber UTF-8 bytes: past the limit the host keeps nothing more.
  if (logged > LOG_LIMIT) return;
  const line = args.map(show).join(' ') + '\n';
  logged += line.length;
  out.puts(line);
  out.flush();
}
globalThis.console = { log, error: log, warn: log, info: log, debug: log, trace: log };
globalThis.print = log;
globalThis.setTimeout = (fn, ms = 0, ...args) => os.setTimeout(() => fn(...args), ms);
globalThis.clearTimeout = (timer) => os.clearTimeout(timer);
const CALL = %(call_mark)s;
function hostCall(op, args) {
  err.puts(CALL + stringify({ op, args }) + '\n');
  err.flush();
  const line = std.in.getline();
  if (line === null) throw new Error(op + ': the host API is not available here');
  const answer = parse(line);
  if (answer.error !== undefined) throw new Error(op + ': ' + answer.error);
  return answer.ok;
}
const freeze = Object.freeze;
// throw new pnil.Retry(message, {delayMs}): this attempt fails and asks for a next one.
class Retry extends Error {
  constructor(message, options) {
    super(message);
    this.name = 'Retry';
    this.delayMs = options?.delayMs;
  }
}
globalThis.pnil = freeze({
  Retry,
  kv: freeze({
    get: (key) => hostCall('kv.get', { key }),
    set: (key, value, options) => { hostCall('kv.set', { key, value, ttl: options?.ttl }); },
    delete: (key) => hostCall('kv.delete', { key }),
    list: (prefix = '', limit = 100) => hostCall('kv.list', { prefix, limit }),
    increment: (key, by = 1) => hostCall('kv.increment', { key, by }),
    compareAndSet: (key, expected, value) =>
      hostCall('kv.cas', expected === undefined ? { key, value } : { key, expected, value }),
  }),
  fetch: (url, init = {}) => hostCall('http.fetch',
    { url: String(url), method: init.method, headers: init.headers, body: init.body }),
  emit: (type, payload = {}) => { hostCall('emit', { type, payload }); },
  secrets: freeze({ get: (name) => hostCall('secrets.get', { name: String(name) }) }),
  enqueue: (fn, input = {}, options = {}) =>
    hostCall('enqueue', { function: String(fn), input, delayMs: options?.delayMs ?? 0 }),
});
globalThis.fetch = (url, init) => {
  try {
    const r = pnil.fetch(url, init);
    return Promise.resolve(freeze({
      status: r.status, ok: r.status >= 200 && r.status < 300,
      headers: freeze({ get: (name) => r.headers[String(name).toLowerCase()] ?? null }),
      text: async () => r.body, json: async () => parse(r.body),
    }));
  } catch (e) {
    return Promise.reject(e);
  }
};
function describe(e, phase) {
  try {
    const isError = e instanceof Error;
    return stringify({
      phase, name: isError ? String(e.name) : '',
      message: isError ? String(e.message) : 'uncaught exception: ' + show(e),
      stack: isError && e.stack ? String(e.stack) : '',
      retry: e instanceof Retry
        ? { delayMs: typeof e.delayMs === 'number' && e.delayMs >= 0 ? e.delayMs : null } : null,
    });
  } catch (_) {
    return stringify({ phase, name: '', message: 'uncaught exception', stack: '' });
  }
}
let phase = 'load';
try {
  const handle = (0, eval)(%(source)s);
  if (%(check)s) {
    send('C', typeof handle);
  } else if (typeof handle !== 'function') {
    send('M', '');
  } else {
    phase = 'run';
    let value = handle(parse(%(input)s), parse(%(context)s));
    if (value !== null && typeof value === 'object' && typeof value.then === 'function') {
      value = await value;
    }
    phase = 'output';
    const text = stringify(value);
    if (text === undefined) send('U', typeof value);
    else if (text.length > LIMIT) send('B', String(text.length));
    else send('R', text);
  }
} catch (e) {
  if (e === null || e === undefined) send('N', phase);
  else send('E', describe(e, phase));
}
"""


def wrapper_source(
    source: str,
    input_json: str,
    *,
    output_limit: int,
    log_limit: int,
    check: bool,
    context_json: str = "null",
) -> str:
    """The module text for one run (``check`` only defines and reports ``typeof handle``)."""
    # ensure_ascii: the text travels as a C string (no NUL) and may hold lone surrogates.
    return _WRAPPER % {
        "mark": json.dumps(MARK),
        "call_mark": json.dumps(CALL_MARK),
        "limit": output_limit,
        "log_limit": log_limit,
        "source": json.dumps(source + _HANDLE_PROBE),
        "check": "true" if check else "false",
        "input": json.dumps(input_json),
        "context": json.dumps(context_json),
    }


@dataclass(frozen=True, kw_only=True, slots=True)
class Envelope:
    """What the wrapper reported: ``kind`` is one letter, ``payload`` the rest."""

    kind: str
    payload: str

    def error(self) -> dict[str, str]:
        """The decoded payload of an ``E`` envelope."""
        try:
            data = json.loads(self.payload)
        except ValueError:
            return {"phase": "run", "name": "", "message": self.payload, "stack": ""}
        return {key: str(data.get(key, "")) for key in ("phase", "name", "message", "stack")}

    def retry(self) -> dict | None:
        """`{"delayMs": number | None}` when an ``E`` envelope is a thrown ``pnil.Retry``."""
        try:
            data = json.loads(self.payload)
        except ValueError:
            return None
        retry = data.get("retry") if isinstance(data, dict) else None
        return retry if isinstance(retry, dict) else None


def split_stderr(data: bytes) -> tuple[str, Envelope | None]:
    """QuickJS's diagnostics and the last envelope on fd 2 (None when there is none)."""
    at = data.rfind(MARK_BYTES)
    if at < 0:
        return data.decode("utf-8", errors="replace"), None
    body = data[at + len(MARK_BYTES) :].decode("utf-8", errors="replace")
    diagnostics = data[:at].decode("utf-8", errors="replace")
    if not body:
        return diagnostics, None
    return diagnostics, Envelope(kind=body[0], payload=body[1:])


_POSITION = re.compile(r"<input>:(\d+):(\d+)")
MAX_STACK_LINES = 30


def source_position(stack: str) -> tuple[int, int] | None:
    """Line and column of the innermost frame in the user's source, if the stack has one."""
    match = _POSITION.search(stack)
    return (int(match.group(1)), int(match.group(2))) if match else None


def user_stack(stack: str) -> str:
    """The stack without the wrapper's own frames, at most MAX_STACK_LINES long."""
    lines = [line for line in stack.rstrip().splitlines() if "<cmdline>" not in line]
    if len(lines) > MAX_STACK_LINES:
        lines = lines[:MAX_STACK_LINES] + [f"    … {len(lines) - MAX_STACK_LINES} more frames"]
    return "\n".join(lines)
