// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { Account } from "./Account";
import type { WorkspaceRouting } from "./WorkspaceRouting";

/**
 * `account/read` result. Every member is written, `null` included, as Codex writes them.
 */
export type GetAccountResponse = {
  /**
   * The account the backend is logged in with; `null` for none (or none needed).
   */
  account: Account | null;
  /**
   * Whether turns need an OpenAI login that is not there yet.
   */
  requiresOpenaiAuth: boolean;
  userId: string | null;
  /**
   * Experimental upstream; Codex writes it (`null`) without the opt-in too.
   */
  workspaceRouting: WorkspaceRouting | null;
};
