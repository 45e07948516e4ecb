// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { Turn } from "./Turn";

/**
 * `turn/start` result.
 */
export type TurnStartResponse = {
  turn: Turn;
};
