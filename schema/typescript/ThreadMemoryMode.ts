// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * Whether a thread may be used for memories.
 */
export type ThreadMemoryMode = "enabled" | "disabled";
