// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ExternalAgentImportedConnectorSource } from "./ExternalAgentImportedConnectorSource";

/**
 * A connector the imported sessions used (none: agent-host does not migrate connectors).
 */
export type ExternalAgentImportedConnectorCandidate = {
  name: string;
  sessionCount: number;
  source: ExternalAgentImportedConnectorSource;
};
