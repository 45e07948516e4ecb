// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `thread/name/updated`.
 */
export type ThreadNameUpdatedNotification = {
  threadId: string;
  threadName?: string | null;
};
