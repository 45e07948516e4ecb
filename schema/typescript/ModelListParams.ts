// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * `model/list` params.
 */
export type ModelListParams = {
  /**
   * Where the previous page ended (the `nextCursor` it returned).
   */
  cursor?: string | null;
  /**
   * Also list models hidden from the default picker.
   */
  includeHidden?: boolean | null;
  /**
   * The page size (0 counts as 1); all models without it.
   */
  limit?: number | null;
  /**
   * The configured provider whose models to list (default: the default provider).
   */
  modelProvider?: string | null;
};
