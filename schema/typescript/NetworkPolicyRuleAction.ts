// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * Allow or deny a host.
 */
export type NetworkPolicyRuleAction = "allow" | "deny";
