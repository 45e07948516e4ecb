// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { CollaborationSettings } from "./CollaborationSettings";

/**
 * The collaboration mode of a resumed thread. Note the snake_case settings, as on the wire.
 */
export type CollaborationMode = {
  /**
   * `default` or `plan`.
   */
  mode: string;
  settings: CollaborationSettings;
};
