// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ExternalAgentConfigImportTypeResult } from "./ExternalAgentConfigImportTypeResult";

/**
 * `externalAgentConfig/import/completed`: every result of the import, by item type.
 */
export type ExternalAgentConfigImportCompletedNotification = {
  importId: string;
  itemTypeResults: Array<ExternalAgentConfigImportTypeResult>;
};
