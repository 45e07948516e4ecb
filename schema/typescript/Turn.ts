// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ItemsView } from "./ItemsView";
import type { ThreadItem } from "./ThreadItem";
import type { TurnError } from "./TurnError";
import type { TurnStatus } from "./TurnStatus";

/**
 * A turn of a thread.
 */
export type Turn = {
  /**
   * Unix seconds.
   */
  completedAt: number | null;
  durationMs: number | null;
  error: TurnError | null;
  id: string;
  /**
   * Which items are here depends on `itemsView`.
   */
  items: Array<ThreadItem>;
  itemsView: ItemsView;
  rootTurnId: string | null;
  /**
   * Unix seconds.
   */
  startedAt: number | null;
  status: TurnStatus;
};
