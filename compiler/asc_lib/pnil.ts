// pnil's library for AssemblyScript functions:
//   import { context, kv, http, emit, secrets, retry, enqueue } from "pnil";
// The compile server makes this file importable as the package "pnil"; its functions call
// host functions the runner links (module "env"), never anything outside the sandbox.
// Values cross as JSON text. A refused call (not allowed, over maxApiCallsPerMinute, invalid)
// ends the execution FAILED with the reason.

@external("env", "pnil.context")
declare function hostContext(): string;
@external("env", "pnil.kv.get")
declare function hostKvGet(key: string): string | null;
@external("env", "pnil.kv.set")
declare function hostKvSet(key: string, json: string, ttlSeconds: f64): void;
@external("env", "pnil.kv.delete")
declare function hostKvDelete(key: string): bool;
@external("env", "pnil.kv.list")
declare function hostKvList(prefix: string, limit: i32): string;
@external("env", "pnil.kv.increment")
declare function hostKvIncrement(key: string, by: f64): f64;
@external("env", "pnil.kv.cas")
declare function hostKvCas(key: string, expected: string | null, json: string): bool;
@external("env", "pnil.http.fetch")
declare function hostFetch(url: string, method: string, headersJson: string | null, body: string | null): string;
@external("env", "pnil.http.status")
declare function hostStatus(): i32;
@external("env", "pnil.http.headers")
declare function hostHeaders(): string;
@external("env", "pnil.emit")
declare function hostEmit(type: string, payloadJson: string): void;
@external("env", "pnil.secrets.get")
declare function hostSecretGet(name: string): string | null;
@external("env", "pnil.retry")
declare function hostRetry(message: string, delayMs: f64): void;
@external("env", "pnil.enqueue")
declare function hostEnqueue(fn: string, inputJson: string, delayMs: f64): string;

/**
 * This execution's context as JSON text:
 * {"executionId", "functionId", "version", "trigger": {"type", ...triggerData}}.
 */
export function context(): string {
  return hostContext();
}

/** The tenant's key-value store: keys up to 255 bytes, values JSON text up to 1 MiB. */
export namespace kv {
  /** The value's JSON text, or null when the key is absent (or expired). */
  export function get(key: string): string | null {
    return hostKvGet(key);
  }
  /** Store JSON text under key; ttlSeconds > 0 makes it expire. */
  export function set(key: string, json: string, ttlSeconds: f64 = 0): void {
    hostKvSet(key, json, ttlSeconds);
  }
  /** True when the key existed. */
  export function del(key: string): bool {
    return hostKvDelete(key);
  }
  /** A JSON array of the keys starting with prefix, in order. */
  export function list(prefix: string = "", limit: i32 = 100): string {
    return hostKvList(prefix, limit);
  }
  /** Add `by` to an integer value (absent counts as 0) atomically; the new value. */
  export function increment(key: string, by: i64 = 1): i64 {
    return <i64>hostKvIncrement(key, <f64>by);
  }
  /** Set json only if the current value equals expected (null: only if absent); true if set. */
  export function compareAndSet(key: string, expected: string | null, json: string): bool {
    return hostKvCas(key, expected, json);
  }
}

export class Response {
  constructor(public status: i32, public headers: string, public body: string) {}
}

export namespace http {
  /** One HTTP request to a host in the function's allowedHosts; headersJson is a JSON object. */
  export function fetch(
    url: string,
    method: string = "GET",
    body: string | null = null,
    headersJson: string | null = null,
  ): Response {
    const text = hostFetch(url, method, headersJson, body);
    return new Response(hostStatus(), hostHeaders(), text);
  }
}

/** Publish an event of the function's tenant; payloadJson is a JSON object. */
export function emit(type: string, payloadJson: string = "{}"): void {
  hostEmit(type, payloadJson);
}

/** The tenant's secrets the function declares (its "secrets" list). */
export namespace secrets {
  /**
   * The secret's value; null when the function does not declare the name or the secret does not
   * exist (AssemblyScript has no exceptions: check for null). Wherever the value ends up in the
   * execution's output, logs or errors, pnil stores [secret NAME] instead.
   */
  export function get(name: string): string | null {
    return hostSecretGet(name);
  }
}

/**
 * End this execution FAILED with `message` and ask for a retry, whatever the retry policy's
 * retryOn says, within its maxAttempts; `delayMs` (>= 0) replaces the policy's backoff for the
 * wait. Queued executions only: a sync execute just fails. Never returns.
 */
export function retry(message: string, delayMs: f64 = -1): void {
  hostRetry(message, delayMs);
  unreachable();
}

/**
 * Queue an execution of another function of the tenant (its name or id) with inputJson (a JSON
 * object); returns the new execution's id; it starts after delayMs (0 to 30 days).
 */
export function enqueue(fn: string, inputJson: string = "{}", delayMs: f64 = 0): string {
  return hostEnqueue(fn, inputJson, delayMs);
}
