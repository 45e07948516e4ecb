// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ExternalAgentConfigMigrationItemType } from "./ExternalAgentConfigMigrationItemType";
import type { MigrationDetails } from "./MigrationDetails";

/**
 * One thing to migrate, as detect reports it and import takes it back.
 */
export type ExternalAgentConfigMigrationItem = {
  /**
   * `null` or empty: home-scoped; else repository-scoped.
   */
  cwd?: string | null;
  description: string;
  details?: MigrationDetails | null;
  itemType: ExternalAgentConfigMigrationItemType;
};
