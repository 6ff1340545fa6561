// A long-lived AssemblyScript compile server for compiler/asc.py.
//
// Protocol: one JSON object per line.
//   startup  -> {"ready": true, "version": "<asc version>"}
//   request  <- {"id": <any>, "source": "<AssemblyScript source>"}
//   response -> {"id": <same>, "ok": true, "wasm": "<base64>"}
//             | {"id": <same>, "ok": false, "error": "<diagnostics>"}
// Requests are handled one at a time, in order. stdout carries only protocol lines;
// anything else the process prints goes to stderr.
//
// Why a server: loading the compiler (and binaryen) costs about a second per process,
// so a fresh `asc` CLI per job is slow; a warm one compiles in a few hundred ms.

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

// The compiler may log through console.*; keep stdout clean for the protocol.
for (const name of ["log", "info", "debug", "warn"]) {
  console[name] = (...args) => console.error(...args);
}

const ENTRY = "input.ts";
const OUTPUT = "out.wasm";
const ARGS = [
  ENTRY,
  "-o",
  OUTPUT,
  "--exportRuntime",
  "--runtime",
  "incremental",
  "--optimize",
  "--noColors",
];
const MAX_ERROR_CHARS = 8000;
// Packages a function may import, by the path asc looks them up at ("pnil" → node_modules/pnil/index.ts).
const LIBRARIES = new Map([
  ["node_modules/pnil/index.ts", readFileSync(new URL("./asc_lib/pnil.ts", import.meta.url), "utf8")],
]);
const WARMUP_SOURCE = "export function handle(input: string): string { return input; }";

// `--asc PATH` names the compiler of a given project; without it, the package resolved from here.
const ascFlag = process.argv.indexOf("--asc");
const ascModule = ascFlag > 0 ? pathToFileURL(process.argv[ascFlag + 1]).href : "assemblyscript/asc";

let asc;
try {
  asc = (await import(ascModule)).default;
} catch (err) {
  process.stderr.write(`cannot load the AssemblyScript compiler: ${err && err.message}\n`);
  process.exit(3);
}

const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

/** Keeps the compiler's ERROR diagnostics (code, message, snippet, position) and drops banners. */
function cleanDiagnostics(stderrText, fallback) {
  const text = stderrText.replace(ANSI, "").replace(/\r\n/g, "\n");
  const blocks = text
    .split(/\n\s*\n/)
    .map((block) => block.replace(/\s+$/, ""))
    .filter((block) => /^\s*ERROR\b/.test(block));
  let message = blocks.length ? blocks.join("\n\n") : (fallback || text).trim();
  // An internal compiler failure prints a JS stack; the first line is what matters.
  message = message
    .split("\n")
    .filter((line) => !/^\s+at\s.+\(?.*:\d+:\d+\)?$/.test(line))
    .join("\n");
  if (message.length > MAX_ERROR_CHARS) {
    message = message.slice(0, MAX_ERROR_CHARS) + "\n... (more diagnostics omitted)";
  }
  return message || "compilation failed without diagnostics";
}

/** Compiles one source held in memory; the compiler never sees host files besides its stdlib. */
async function compile(source) {
  const files = new Map();
  const stdout = asc.createMemoryStream();
  const stderr = asc.createMemoryStream();
  const result = await asc.main(ARGS, {
    stdout,
    stderr,
    // Only the user's file and pnil's library exist: asconfig.json, relative imports and other
    // packages are not found.
    readFile: (filename) => (filename === ENTRY ? source : (LIBRARIES.get(filename) ?? null)),
    writeFile: (filename, contents) => {
      files.set(filename, contents);
    },
    listFiles: () => [],
  });
  const wasm = files.get(OUTPUT);
  if (result.error || !(wasm instanceof Uint8Array)) {
    const fallback = result.error ? String(result.error.message || result.error) : "";
    return { ok: false, error: cleanDiagnostics(stderr.toString(), fallback) };
  }
  return { ok: true, wasm: Buffer.from(wasm).toString("base64") };
}

async function handle(line) {
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    return { id: null, ok: false, error: "bad request: not a JSON line" };
  }
  const id = request && "id" in request ? request.id : null;
  if (typeof request?.source !== "string") {
    return { id, ok: false, error: "bad request: source must be a string" };
  }
  try {
    return { id, ...(await compile(request.source)) };
  } catch (err) {
    const first = String((err && err.message) || err).split("\n")[0];
    return { id, ok: false, error: `internal compiler error: ${first}` };
  }
}

function send(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// The first compile pays for binaryen's and the stdlib's initialisation; do it before "ready".
if (!process.argv.includes("--no-warmup")) {
  await compile(WARMUP_SOURCE);
}
send({ ready: true, version: asc.version });

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
let queue = Promise.resolve();
let pending = 0;
lines.on("line", (line) => {
  if (!line.trim()) return;
  pending += 1;
  queue = queue.then(async () => {
    send(await handle(line));
    pending -= 1;
  });
});

// V8 needs about ten compiles before asc runs at full speed (the first ones take 1-3 s, later
// ones ~0.2 s). Do them in the background while no job waits, so the first real jobs are fast
// too without delaying "ready".
async function warmInBackground(rounds) {
  for (let i = 0; i < rounds; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (pending > 0) {
      i -= 1;
      await queue;
      continue;
    }
    const source = `${WARMUP_SOURCE}\nexport const warm${i}: i32 = ${i};`;
    queue = queue.then(() => compile(source).catch(() => undefined));
    await queue;
  }
}
if (!process.argv.includes("--no-warmup")) {
  warmInBackground(Number(process.env.PNIL_ASC_WARMUP_ROUNDS ?? 10));
}
lines.on("close", () => {
  queue.then(() => process.exit(0));
});
