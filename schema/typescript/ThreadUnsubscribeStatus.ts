// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * What `thread/unsubscribe` did.
 */
export type ThreadUnsubscribeStatus = "unsubscribed" | "notSubscribed" | "notLoaded";
