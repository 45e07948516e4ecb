// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { CommandExecOutputStream } from "./CommandExecOutputStream";

/**
 * `command/exec/outputDelta` notification: base64 bytes of a streaming process.
 */
export type CommandExecOutputDeltaNotification = {
  capReached: boolean;
  deltaBase64: string;
  processId: string;
  stream: CommandExecOutputStream;
};
