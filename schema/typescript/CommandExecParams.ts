// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { CommandExecTerminalSize } from "./CommandExecTerminalSize";
import type { SandboxPolicy } from "./SandboxPolicy";

/**
 * `command/exec` params.
 */
export type CommandExecParams = {
  /**
   * The argv (non-empty). No shell is involved.
   */
  command: Array<string>;
  cwd?: string | null;
  disableOutputCap?: boolean | null;
  disableTimeout?: boolean | null;
  /**
   * Environment changes; a `null` value unsets the variable.
   */
  env?: { [key in string]?: string | null } | null;
  /**
   * Per stream, in bytes (default 1 MiB).
   */
  outputBytesCap?: number | null;
  /**
   * A client-chosen id; required for tty, streaming, write and terminate.
   */
  processId?: string | null;
  sandboxPolicy?: SandboxPolicy | null;
  /**
   * The terminal size (tty only).
   */
  size?: CommandExecTerminalSize | null;
  streamStdin?: boolean | null;
  streamStdoutStderr?: boolean | null;
  /**
   * Signed, as in Codex's schema, so that a negative value gets Codex's own error.
   */
  timeoutMs?: number | null;
  tty?: boolean | null;
};
