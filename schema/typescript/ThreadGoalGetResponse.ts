// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ThreadGoal } from "./ThreadGoal";

/**
 * `thread/goal/get` result: `null` when the thread has no goal.
 */
export type ThreadGoalGetResponse = {
  goal: ThreadGoal | null;
};
