// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ThreadGoalMutationOrigin } from "./ThreadGoalMutationOrigin";

/**
 * `thread/goal/clear` params.
 */
export type ThreadGoalClearParams = {
  origin?: ThreadGoalMutationOrigin | null;
  threadId: string;
};
