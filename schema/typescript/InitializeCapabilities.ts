// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * What the client opts into or out of.
 */
export type InitializeCapabilities = {
  /**
   * Opt into experimental methods and fields.
   */
  experimentalApi?: boolean;
  /**
   * Notification methods (exact names, no wildcards) this connection must not receive.
   */
  optOutNotificationMethods?: Array<string> | null;
};
