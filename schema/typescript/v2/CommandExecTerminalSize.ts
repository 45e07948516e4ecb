// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

export type { CommandExecTerminalSize } from "../CommandExecTerminalSize";
