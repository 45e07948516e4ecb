// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The error of a failed MCP tool call.
 */
export type McpToolCallError = {
  message: string;
};
