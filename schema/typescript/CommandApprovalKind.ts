// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * What a command approval is about.
 */
export type CommandApprovalKind = "command" | "humanCommand" | "writeStdin";
