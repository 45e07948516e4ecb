// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * A logged-in account, by `type`.
 */
export type Account = {
  type: "apiKey";
} | {
  email: string | null;
  /**
   * One of Codex's plan names (`free`, `plus`, `pro`, …), kept as written.
   */
  planType: string;
  type: "chatgpt";
  workspaceName?: string | null;
} | {
  type: "amazonBedrock";
  usesCodexManagedCredentials: boolean;
} | {
  type: "gcp";
};
