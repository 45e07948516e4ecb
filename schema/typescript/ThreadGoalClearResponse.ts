// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `thread/goal/clear` result: whether there was a goal. `thread/goal/cleared` follows it
 * when there was.
 */
export type ThreadGoalClearResponse = {
  cleared: boolean;
};
