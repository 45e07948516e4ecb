// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ByteRange } from "./ByteRange";

/**
 * A placeholder element inside a text input (`text_elements`).
 */
export type TextElement = {
  byteRange: ByteRange;
  placeholder?: string | null;
};
