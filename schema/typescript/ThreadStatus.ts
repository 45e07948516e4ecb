// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ThreadActiveFlag } from "./ThreadActiveFlag";

/**
 * The runtime status of a thread. Tagged by `type`.
 */
export type ThreadStatus = {
  type: "notLoaded";
} | {
  type: "idle";
} | {
  type: "systemError";
} | {
  activeFlags: Array<ThreadActiveFlag>;
  type: "active";
};
