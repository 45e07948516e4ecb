// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ThreadItem } from "./ThreadItem";

/**
 * `item/started`.
 */
export type ItemStartedNotification = {
  item: ThreadItem;
  /**
   * Unix milliseconds.
   */
  startedAtMs: number;
  threadId: string;
  turnId: string;
};
