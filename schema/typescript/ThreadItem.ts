// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";
import type { CommandAction } from "./CommandAction";
import type { CommandExecutionSource } from "./CommandExecutionSource";
import type { CommandExecutionStatus } from "./CommandExecutionStatus";
import type { FileUpdateChange } from "./FileUpdateChange";
import type { McpToolCallError } from "./McpToolCallError";
import type { McpToolCallResult } from "./McpToolCallResult";
import type { McpToolCallStatus } from "./McpToolCallStatus";
import type { MessagePhase } from "./MessagePhase";
import type { PatchApplyStatus } from "./PatchApplyStatus";
import type { UserInput } from "./UserInput";

/**
 * One item of a turn: the `type`-specific members (the id among them, so that members come
 * in Codex's order) live in `ThreadItemKind`; the timestamps are common to every kind.
 */
export type ThreadItem = {
  /**
   * Unix milliseconds; `null` until the item is completed.
   */
  completedAtMs: number | null;
  /**
   * Unix milliseconds; `null` when unknown.
   */
  startedAtMs: number | null;
} & ({
  clientId: string | null;
  content: Array<UserInput>;
  id: string;
  type: "userMessage";
} | {
  delivery: JsonValue;
  id: string;
  memoryCitation: JsonValue;
  moderation: JsonValue;
  phase: MessagePhase | null;
  questions: JsonValue;
  text: string;
  type: "agentMessage";
} | {
  content: Array<string>;
  id: string;
  summary: Array<string>;
  type: "reasoning";
} | {
  aggregatedOutput: string | null;
  /**
   * The full shell line, e.g. `/bin/bash -lc 'ls'`.
   */
  command: string;
  commandActions: Array<CommandAction>;
  cwd: string;
  durationMs: number | null;
  exitCode: number | null;
  id: string;
  pluginId: string | null;
  processId: string | null;
  scriptPath: string | null;
  source: CommandExecutionSource;
  status: CommandExecutionStatus;
  type: "commandExecution";
} | {
  changes: Array<FileUpdateChange>;
  id: string;
  status: PatchApplyStatus;
  type: "fileChange";
} | {
  arguments: JsonValue;
  durationMs: number | null;
  error: McpToolCallError | null;
  id: string;
  result: McpToolCallResult | null;
  server: string;
  status: McpToolCallStatus;
  tool: string;
  type: "mcpToolCall";
} | {
  id: string;
  text: string;
  type: "plan";
} | {
  id: string;
  type: "contextCompaction";
} | {
  id: string;
  path: string;
  type: "imageView";
} | {
  id: string;
  review: string;
  type: "enteredReviewMode";
} | {
  id: string;
  review: string;
  type: "exitedReviewMode";
});
