// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";

/**
 * No params: absent, `null` or an object (ignored).
 */
export type ExternalAgentConfigImportHistoriesReadParams = null | { [key in string]?: JsonValue };
