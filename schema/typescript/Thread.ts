// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { JsonValue } from "./serde_json/JsonValue";
import type { GitInfo } from "./GitInfo";
import type { HistoryMode } from "./HistoryMode";
import type { SessionSource } from "./SessionSource";
import type { ThreadEnvironment } from "./ThreadEnvironment";
import type { ThreadStatus } from "./ThreadStatus";
import type { Turn } from "./Turn";

/**
 * A thread as Codex 0.169.0 sends it. Every member is always present on the wire; the
 * nullable ones are written as `null`, never left out. The members after the stable schema
 * (`environments`, `extra`, `attachedToThreadId`, `canAcceptDirectInput`, `daybreakEnabled`)
 * are not in the upstream stable schema but are always sent.
 */
export type Thread = {
  agentNickname: string | null;
  agentRole: string | null;
  attachedToThreadId: string | null;
  canAcceptDirectInput: boolean | null;
  cliVersion: string;
  /**
   * Unix seconds.
   */
  createdAt: number;
  /**
   * Absolute path.
   */
  cwd: string;
  daybreakEnabled: boolean | null;
  /**
   * The thread's environments; `null` when the thread is not loaded.
   */
  environments: Array<ThreadEnvironment> | null;
  ephemeral: boolean;
  extra: JsonValue;
  forkedFromId: string | null;
  gitInfo: GitInfo | null;
  historyMode: HistoryMode;
  id: string;
  model: string | null;
  modelProvider: string;
  name: string | null;
  /**
   * The `clientInfo.name` of the client that created the thread.
   */
  originator: string | null;
  parentThreadId: string | null;
  /**
   * Where the thread is stored; `null` if and only if the thread is ephemeral.
   */
  path: string | null;
  /**
   * The first user message; `""` until the first turn.
   */
  preview: string;
  projectId: string | null;
  reasoningEffort: string | null;
  /**
   * Unix seconds.
   */
  recencyAt: number | null;
  section: JsonValue;
  sectionEnteredAt: number | null;
  sessionId: string;
  source: SessionSource;
  status: ThreadStatus;
  threadSource: string | null;
  /**
   * Filled only by `thread/resume`, `thread/fork` and `thread/read includeTurns`.
   */
  turns: Array<Turn>;
  /**
   * Unix seconds.
   */
  updatedAt: number;
};
