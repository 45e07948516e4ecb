// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { NetworkPolicyAmendment } from "./NetworkPolicyAmendment";

/**
 * A client's answer to a command approval. Note the snake_case inner members.
 */
export type CommandExecutionApprovalDecision = "accept" | "acceptForSession" | "decline" | {
  acceptWithExecpolicyAmendment: {
    execpolicy_amendment: Array<string>;
  };
} | {
  applyNetworkPolicyAmendment: {
    network_policy_amendment: NetworkPolicyAmendment;
  };
} | "cancel";
