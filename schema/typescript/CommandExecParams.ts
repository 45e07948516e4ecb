// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { SandboxPolicy } from "./SandboxPolicy";
import type { TerminalSize } from "./TerminalSize";

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
  size?: TerminalSize | null;
  streamStdin?: boolean | null;
  streamStdoutStderr?: boolean | null;
  timeoutMs?: number | null;
  tty?: boolean | null;
};
