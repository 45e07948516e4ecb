// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `thread/goal/cleared`: after `thread/goal/clear` removed a goal.
 */
export type ThreadGoalClearedNotification = {
  threadId: string;
};
