// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * Who changed a goal: the user, or the goal's own lifecycle.
 */
export type ThreadGoalMutationOrigin = "user" | "automatic";
