// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `serverRequest/resolved`: a server→client request got its answer (or was withdrawn).
 */
export type ServerRequestResolvedNotification = {
  /**
   * The id of the server→client request (integers counting up from 0 per connection).
   */
  requestId: number;
  threadId: string;
};
