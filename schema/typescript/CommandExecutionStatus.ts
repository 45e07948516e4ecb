// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The state of a command execution.
 */
export type CommandExecutionStatus = "inProgress" | "completed" | "failed" | "declined";
