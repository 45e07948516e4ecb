// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { PatchChangeKind } from "./PatchChangeKind";

/**
 * One changed file.
 */
export type FileUpdateChange = {
  diff: string;
  kind: PatchChangeKind;
  /**
   * Absolute path.
   */
  path: string;
};
