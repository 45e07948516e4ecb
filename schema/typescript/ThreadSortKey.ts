// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The sort key of `thread/list`.
 */
export type ThreadSortKey = "created_at" | "updated_at" | "recency_at" | "section_position";
