// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * The network access a command asks for.
 */
export type NetworkApprovalContext = {
  host: string;
  protocol: string;
};
