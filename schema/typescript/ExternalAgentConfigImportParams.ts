// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ExternalAgentConfigMigrationItem } from "./ExternalAgentConfigMigrationItem";

/**
 * `externalAgentConfig/import` params.
 */
export type ExternalAgentConfigImportParams = {
  migrationItems: Array<ExternalAgentConfigMigrationItem>;
  migrationSource?: string | null;
  /**
   * Opaque to the server: kept in the import history.
   */
  providerId?: string | null;
  /**
   * The product that started the import (attribution only).
   */
  source?: string | null;
};
