// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `command/exec` result, sent after the process exited and after all its output deltas.
 * Streamed output is not repeated here (`""`).
 */
export type CommandExecResponse = {
  exitCode: number;
  stderr: string;
  stdout: string;
};
