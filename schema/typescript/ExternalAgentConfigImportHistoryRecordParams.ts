// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ExternalAgentConfigImportTypeResult } from "./ExternalAgentConfigImportTypeResult";

/**
 * `externalAgentConfig/import/recordHistory` params: an import done elsewhere, to keep in
 * the history.
 */
export type ExternalAgentConfigImportHistoryRecordParams = {
  itemTypeResults: Array<ExternalAgentConfigImportTypeResult>;
  providerId: string;
};
