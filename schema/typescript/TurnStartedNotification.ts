// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { Turn } from "./Turn";

/**
 * `turn/started`.
 */
export type TurnStartedNotification = {
  threadId: string;
  turn: Turn;
};
