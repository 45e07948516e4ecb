// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The sort direction of `thread/list` (default `desc`).
 */
export type SortDirection = "asc" | "desc";
