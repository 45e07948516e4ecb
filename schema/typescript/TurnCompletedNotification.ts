// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { Turn } from "./Turn";

/**
 * `turn/completed`: always the last notification of a turn.
 */
export type TurnCompletedNotification = {
  threadId: string;
  turn: Turn;
};
