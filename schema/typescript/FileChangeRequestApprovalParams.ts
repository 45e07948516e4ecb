// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `item/fileChange/requestApproval` params.
 */
export type FileChangeRequestApprovalParams = {
  grantRoot: string | null;
  itemId: string;
  reason: string | null;
  /**
   * Unix milliseconds.
   */
  startedAtMs: number;
  threadId: string;
  turnId: string;
};
