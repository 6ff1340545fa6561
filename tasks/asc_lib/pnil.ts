// pnil's library for AssemblyScript functions: `import { context } from "pnil";`
// The compile server makes this file importable as the package "pnil"; its functions call
// host functions the runner links (module "env"), never anything outside the sandbox.

@external("env", "pnil.context")
declare function hostContext(): string;

/**
 * This execution's context as JSON text:
 * {"executionId", "functionId", "version", "trigger": {"type", ...triggerData}}.
 * Parse it with a JSON library, or search it for the field you need.
 */
export function context(): string {
  return hostContext();
}
