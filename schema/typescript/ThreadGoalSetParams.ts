// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ThreadGoalMutationOrigin } from "./ThreadGoalMutationOrigin";
import type { ThreadGoalStatus } from "./ThreadGoalStatus";

/**
 * `thread/goal/set` params. With an `objective` the goal is set (a different objective, or
 * a completed goal, starts a new one); without, the existing goal's status and budget
 * change.
 */
export type ThreadGoalSetParams = {
  objective?: string | null;
  origin?: ThreadGoalMutationOrigin | null;
  status?: ThreadGoalStatus | null;
  threadId: string;
  /**
   * Absent: keep the budget; `null`: no budget; a number (positive): the budget.
   */
  tokenBudget?: number | null;
};
