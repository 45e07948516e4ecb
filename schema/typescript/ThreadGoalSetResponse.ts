// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ThreadGoal } from "./ThreadGoal";

/**
 * `thread/goal/set` result. `thread/goal/updated` follows it.
 */
export type ThreadGoalSetResponse = {
  goal: ThreadGoal;
};
