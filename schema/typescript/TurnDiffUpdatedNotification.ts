// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `turn/diff/updated`: the turn's unified diff so far.
 */
export type TurnDiffUpdatedNotification = {
  diff: string;
  threadId: string;
  turnId: string;
};
