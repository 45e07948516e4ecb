// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `thread/loaded/list` result: the ids of the loaded threads.
 */
export type ThreadLoadedListResponse = {
  data: Array<string>;
  /**
   * With `limit`, the last returned id; `null` on the last page.
   */
  nextCursor: string | null;
};
