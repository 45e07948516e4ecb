// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";
import type { ConfigLayer } from "./ConfigLayer";
import type { ConfigLayerMetadata } from "./ConfigLayerMetadata";

/**
 * `config/read` result.
 */
export type ConfigReadResponse = {
  /**
   * The effective configuration, as one object of configuration keys.
   */
  config: { [key in string]?: JsonValue };
  /**
   * Every layer, highest precedence first (only with `includeLayers`).
   */
  layers?: Array<ConfigLayer> | null;
  /**
   * For each dotted key path of `config`, the layer that set it.
   */
  origins: { [key in string]?: ConfigLayerMetadata };
};
