// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `initialize` result.
 */
export type InitializeResponse = {
  /**
   * Absolute path of the server's home (for agent-host: its state directory).
   */
  codexHome: string;
  /**
   * `unix` or `windows`.
   */
  platformFamily: string;
  /**
   * `linux`, `macos` or `windows`.
   */
  platformOs: string;
  userAgent: string;
};
