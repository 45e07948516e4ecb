// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The state of an MCP tool call.
 */
export type McpToolCallStatus = "inProgress" | "completed" | "failed";
