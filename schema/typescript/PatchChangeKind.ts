// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * How a file changes. Tagged by `type`; note the snake_case `move_path`, as on the wire.
 */
export type PatchChangeKind = {
  type: "add";
} | {
  type: "delete";
} | {
  move_path: string | null;
  type: "update";
};
