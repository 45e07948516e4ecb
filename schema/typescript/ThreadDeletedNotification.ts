// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `thread/deleted`: the thread and everything of it is gone.
 */
export type ThreadDeletedNotification = {
  threadId: string;
};
