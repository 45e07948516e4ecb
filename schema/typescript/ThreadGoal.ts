// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ThreadGoalStatus } from "./ThreadGoalStatus";

/**
 * A thread's goal, with what its turns have spent on it. Every member is always written.
 */
export type ThreadGoal = {
  /**
   * Unix seconds.
   */
  createdAt: number;
  objective: string;
  status: ThreadGoalStatus;
  threadId: string;
  timeUsedSeconds: number;
  tokenBudget: number | null;
  tokensUsed: number;
  /**
   * Unix seconds.
   */
  updatedAt: number;
};
