// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";

/**
 * The result of an MCP tool call.
 */
export type McpToolCallResult = {
  _meta: JsonValue;
  content: Array<JsonValue>;
  structuredContent: JsonValue;
};
