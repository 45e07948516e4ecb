// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ExternalAgentConfigImportTypeResult } from "./ExternalAgentConfigImportTypeResult";

/**
 * `externalAgentConfig/import/progress`: the result of one stage of an import.
 */
export type ExternalAgentConfigImportProgressNotification = {
  importId: string;
  itemTypeResults: Array<ExternalAgentConfigImportTypeResult>;
};
