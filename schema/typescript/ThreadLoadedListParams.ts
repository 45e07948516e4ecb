// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `thread/loaded/list` params.
 */
export type ThreadLoadedListParams = {
  cursor?: string | null;
  limit?: number | null;
};
