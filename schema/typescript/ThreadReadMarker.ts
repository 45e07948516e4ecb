// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * Where the unread part of a thread begins. Tagged by `type`.
 */
export type ThreadReadMarker = {
  turnId: string;
  type: "turn";
};
