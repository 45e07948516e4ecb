// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `externalAgentConfig/import` result; the outcome follows as notifications naming it.
 */
export type ExternalAgentConfigImportResponse = {
  importId: string;
};
