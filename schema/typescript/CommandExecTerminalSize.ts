// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * A terminal size in character cells.
 */
export type CommandExecTerminalSize = {
  cols: number;
  rows: number;
};
