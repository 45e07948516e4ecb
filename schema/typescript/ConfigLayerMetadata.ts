// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ConfigLayerSource } from "./ConfigLayerSource";

/**
 * A layer named, with the version of its contents.
 */
export type ConfigLayerMetadata = {
  name: ConfigLayerSource;
  /**
   * `sha256:` and the SHA-256 of the layer's table as compact JSON with sorted keys.
   */
  version: string;
};
