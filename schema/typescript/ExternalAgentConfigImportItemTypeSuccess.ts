// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ExternalAgentConfigMigrationItemType } from "./ExternalAgentConfigMigrationItemType";

/**
 * One thing imported. For a session: `source` the transcript, `target` the new thread's id.
 */
export type ExternalAgentConfigImportItemTypeSuccess = {
  cwd?: string | null;
  itemType: ExternalAgentConfigMigrationItemType;
  source?: string | null;
  target?: string | null;
  /**
   * The session's original title; `null` for other item types.
   */
  title?: string | null;
};
