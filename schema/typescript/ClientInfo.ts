// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * Who the client is. `name` becomes `thread.originator`.
 */
export type ClientInfo = {
  name: string;
  title?: string | null;
  version: string;
};
