// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * Where a ChatGPT workspace's requests go (experimental upstream).
 */
export type WorkspaceRouting = {
  accountRoutingOverride: string;
  backendOrigin: string;
  chatgptAccountId: string;
};
