// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ClientInfo } from "./ClientInfo";
import type { InitializeCapabilities } from "./InitializeCapabilities";

/**
 * `initialize` params.
 */
export type InitializeParams = {
  /**
   * Omitted, `null` and `{}` all mean the defaults.
   */
  capabilities?: InitializeCapabilities | null;
  clientInfo: ClientInfo;
};
