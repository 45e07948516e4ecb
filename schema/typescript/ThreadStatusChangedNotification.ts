// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ThreadStatus } from "./ThreadStatus";

/**
 * `thread/status/changed`.
 */
export type ThreadStatusChangedNotification = {
  status: ThreadStatus;
  threadId: string;
};
