// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ThreadItem } from "./ThreadItem";

/**
 * `item/completed`.
 */
export type ItemCompletedNotification = {
  /**
   * Unix milliseconds.
   */
  completedAtMs: number;
  contentTokenCount: number | null;
  item: ThreadItem;
  threadId: string;
  turnId: string;
};
