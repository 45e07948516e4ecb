// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";
import type { ConfigLayerSource } from "./ConfigLayerSource";

/**
 * One layer with its table.
 */
export type ConfigLayer = {
  config: JsonValue;
  disabledReason?: string | null;
  name: ConfigLayerSource;
  version: string;
};
