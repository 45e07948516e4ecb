// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { CommandExecTerminalSize } from "./CommandExecTerminalSize";

/**
 * `command/exec/resize` params: the new size of a `tty` command's terminal.
 */
export type CommandExecResizeParams = {
  processId: string;
  size: CommandExecTerminalSize;
};
