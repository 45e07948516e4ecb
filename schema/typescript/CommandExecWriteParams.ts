// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `command/exec/write` params: bytes for the process's stdin, and/or close it.
 */
export type CommandExecWriteParams = {
  closeStdin?: boolean | null;
  deltaBase64?: string | null;
  processId: string;
};
