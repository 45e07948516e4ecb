// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { CwdFilter } from "./CwdFilter";
import type { SortDirection } from "./SortDirection";
import type { ThreadSortKey } from "./ThreadSortKey";

/**
 * `thread/list` params: every member is optional.
 */
export type ThreadListParams = {
  /**
   * `true`: archived threads only.
   */
  archived?: boolean | null;
  /**
   * An opaque cursor from a previous page.
   */
  cursor?: string | null;
  cwd?: CwdFilter | null;
  /**
   * The page size (default 25).
   */
  limit?: number | null;
  modelProviders?: Array<string> | null;
  /**
   * A substring of the thread's title.
   */
  searchTerm?: string | null;
  sortDirection?: SortDirection | null;
  sortKey?: ThreadSortKey | null;
  sourceKinds?: Array<string> | null;
};
