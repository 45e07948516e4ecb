// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The state of a file change.
 */
export type PatchApplyStatus = "inProgress" | "completed" | "failed" | "declined";
