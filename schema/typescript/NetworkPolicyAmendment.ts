// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { NetworkPolicyRuleAction } from "./NetworkPolicyRuleAction";

/**
 * A proposed change of the network policy.
 */
export type NetworkPolicyAmendment = {
  action: NetworkPolicyRuleAction;
  host: string;
};
