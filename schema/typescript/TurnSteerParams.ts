// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { UserInput } from "./UserInput";

/**
 * `turn/steer` params: more input for the running turn.
 */
export type TurnSteerParams = {
  clientUserMessageId?: string | null;
  expectedTurnId: string;
  input: Array<UserInput>;
  threadId: string;
};
