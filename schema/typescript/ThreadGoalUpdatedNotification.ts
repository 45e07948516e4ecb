// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ThreadGoal } from "./ThreadGoal";

/**
 * `thread/goal/updated`: after `thread/goal/set` (`turnId` null), after a turn that counted
 * toward the goal (that turn), and after `thread/resume` of a thread with a goal.
 */
export type ThreadGoalUpdatedNotification = {
  goal: ThreadGoal;
  threadId: string;
  turnId: string | null;
};
