// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * How a thread's history is stored.
 */
export type HistoryMode = "legacy" | "paginated";
