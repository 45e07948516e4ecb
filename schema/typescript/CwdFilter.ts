// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

/**
 * One working directory or several (`thread/list.cwd`).
 */
export type CwdFilter = string | Array<string>;
