// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `thread/name/set` params.
 */
export type ThreadNameSetParams = {
  /**
   * Must not be empty.
   */
  name: string;
  threadId: string;
};
