// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { ImageDetail } from "./ImageDetail";
import type { TextElement } from "./TextElement";

/**
 * One piece of user input (`turn/start.input`, `turn/steer.input`, `userMessage.content`).
 * Tagged by `type`. Note the snake_case `text_elements`, as on the wire.
 */
export type UserInput = {
  text: string;
  /**
   * Omitted by some clients; always written (as `[]` when empty).
   */
  text_elements?: Array<TextElement>;
  type: "text";
} | {
  detail?: ImageDetail | null;
  fileId?: string | null;
  type: "image";
  url?: string | null;
} | {
  detail?: ImageDetail | null;
  path: string;
  type: "localImage";
} | {
  type: "audio";
  url: string;
} | {
  path: string;
  type: "localAudio";
} | {
  name: string;
  path: string;
  type: "skill";
} | {
  name: string;
  path: string;
  type: "mention";
};
