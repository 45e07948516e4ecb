// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ReviewDelivery } from "./ReviewDelivery";
import type { ReviewTarget } from "./ReviewTarget";

/**
 * `review/start` params.
 */
export type ReviewStartParams = {
  /**
   * agent-host extension, as in `turn/start`: run the review in the background, so that
   * it outlives this client and this server.
   */
  background?: boolean | null;
  /**
   * Where the review runs: on the thread itself (`inline`, the default) or on a new
   * thread (`detached`).
   */
  delivery?: ReviewDelivery | null;
  target: ReviewTarget;
  threadId: string;
};
