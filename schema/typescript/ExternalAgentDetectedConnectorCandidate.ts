// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ExternalAgentDetectedConnectorSource } from "./ExternalAgentDetectedConnectorSource";

/**
 * A connector seen in the other agent's configuration or sessions (none are detected
 * here: agent-host does not migrate connectors).
 */
export type ExternalAgentDetectedConnectorCandidate = {
  name: string;
  sessionCount: number;
  source: ExternalAgentDetectedConnectorSource;
};
