// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { Model } from "./Model";

/**
 * `model/list` result.
 */
export type ModelListResponse = {
  data: Array<Model>;
  /**
   * Where the next page starts; `null` on the last page.
   */
  nextCursor: string | null;
};
