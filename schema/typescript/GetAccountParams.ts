// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `account/read` params.
 */
export type GetAccountParams = {
  /**
   * Asks the backend to refresh its login first (passed on to a `codex` backend).
   */
  refreshToken?: boolean | null;
};
