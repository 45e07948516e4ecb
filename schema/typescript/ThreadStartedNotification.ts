// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { Thread } from "./Thread";

/**
 * `thread/started`: a thread was started or forked.
 */
export type ThreadStartedNotification = {
  thread: Thread;
};
