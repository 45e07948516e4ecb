// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `warning`: something non-fatal.
 */
export type WarningNotification = {
  message: string;
  threadId?: string | null;
};
