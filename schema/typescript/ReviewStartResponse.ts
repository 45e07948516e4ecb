// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { Turn } from "./Turn";

/**
 * `review/start` result: the review's turn and the thread it runs on.
 */
export type ReviewStartResponse = {
  reviewThreadId: string;
  turn: Turn;
};
