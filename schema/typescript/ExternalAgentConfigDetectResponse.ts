// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ExternalAgentConfigMigrationItem } from "./ExternalAgentConfigMigrationItem";
import type { ExternalAgentDetectedConnectorCandidate } from "./ExternalAgentDetectedConnectorCandidate";

/**
 * `externalAgentConfig/detect` result.
 */
export type ExternalAgentConfigDetectResponse = {
  connectors: Array<ExternalAgentDetectedConnectorCandidate>;
  items: Array<ExternalAgentConfigMigrationItem>;
};
