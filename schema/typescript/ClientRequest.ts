// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { CommandExecParams } from "./CommandExecParams";
import type { CommandExecResizeParams } from "./CommandExecResizeParams";
import type { CommandExecTerminateParams } from "./CommandExecTerminateParams";
import type { CommandExecWriteParams } from "./CommandExecWriteParams";
import type { ConfigReadParams } from "./ConfigReadParams";
import type { ExternalAgentConfigDetectParams } from "./ExternalAgentConfigDetectParams";
import type { ExternalAgentConfigImportHistoriesReadParams } from "./ExternalAgentConfigImportHistoriesReadParams";
import type { ExternalAgentConfigImportHistoryRecordParams } from "./ExternalAgentConfigImportHistoryRecordParams";
import type { ExternalAgentConfigImportParams } from "./ExternalAgentConfigImportParams";
import type { GetAccountParams } from "./GetAccountParams";
import type { InitializeParams } from "./InitializeParams";
import type { ModelListParams } from "./ModelListParams";
import type { ReviewStartParams } from "./ReviewStartParams";
import type { ThreadArchiveParams } from "./ThreadArchiveParams";
import type { ThreadDeleteParams } from "./ThreadDeleteParams";
import type { ThreadForkParams } from "./ThreadForkParams";
import type { ThreadGoalClearParams } from "./ThreadGoalClearParams";
import type { ThreadGoalGetParams } from "./ThreadGoalGetParams";
import type { ThreadGoalSetParams } from "./ThreadGoalSetParams";
import type { ThreadListParams } from "./ThreadListParams";
import type { ThreadLoadedListParams } from "./ThreadLoadedListParams";
import type { ThreadMemoryModeSetParams } from "./ThreadMemoryModeSetParams";
import type { ThreadNameSetParams } from "./ThreadNameSetParams";
import type { ThreadReadParams } from "./ThreadReadParams";
import type { ThreadResumeParams } from "./ThreadResumeParams";
import type { ThreadStartParams } from "./ThreadStartParams";
import type { ThreadUnarchiveParams } from "./ThreadUnarchiveParams";
import type { ThreadUnsubscribeParams } from "./ThreadUnsubscribeParams";
import type { TurnInterruptParams } from "./TurnInterruptParams";
import type { TurnStartParams } from "./TurnStartParams";
import type { TurnSteerParams } from "./TurnSteerParams";

/**
 * A request from the client, by method. Serializes as `{"method","params"}`.
 */
export type ClientRequest = {
  method: "initialize";
  params: InitializeParams;
} | {
  method: "thread/start";
  params: ThreadStartParams;
} | {
  method: "thread/resume";
  params: ThreadResumeParams;
} | {
  method: "thread/fork";
  params: ThreadForkParams;
} | {
  method: "thread/list";
  params: ThreadListParams;
} | {
  method: "thread/read";
  params: ThreadReadParams;
} | {
  method: "thread/loaded/list";
  params: ThreadLoadedListParams;
} | {
  method: "thread/unsubscribe";
  params: ThreadUnsubscribeParams;
} | {
  method: "thread/name/set";
  params: ThreadNameSetParams;
} | {
  method: "thread/archive";
  params: ThreadArchiveParams;
} | {
  method: "thread/unarchive";
  params: ThreadUnarchiveParams;
} | {
  method: "thread/delete";
  params: ThreadDeleteParams;
} | {
  method: "thread/goal/set";
  params: ThreadGoalSetParams;
} | {
  method: "thread/goal/get";
  params: ThreadGoalGetParams;
} | {
  method: "thread/goal/clear";
  params: ThreadGoalClearParams;
} | {
  method: "thread/memoryMode/set";
  params: ThreadMemoryModeSetParams;
} | {
  method: "turn/start";
  params: TurnStartParams;
} | {
  method: "turn/steer";
  params: TurnSteerParams;
} | {
  method: "turn/interrupt";
  params: TurnInterruptParams;
} | {
  method: "review/start";
  params: ReviewStartParams;
} | {
  method: "command/exec";
  params: CommandExecParams;
} | {
  method: "command/exec/write";
  params: CommandExecWriteParams;
} | {
  method: "command/exec/terminate";
  params: CommandExecTerminateParams;
} | {
  method: "account/read";
  params: GetAccountParams;
} | {
  method: "config/read";
  params: ConfigReadParams;
} | {
  method: "model/list";
  params: ModelListParams;
} | {
  method: "externalAgentConfig/detect";
  params: ExternalAgentConfigDetectParams;
} | {
  method: "externalAgentConfig/import";
  params: ExternalAgentConfigImportParams;
} | {
  method: "externalAgentConfig/import/recordHistory";
  params: ExternalAgentConfigImportHistoryRecordParams;
} | {
  method: "externalAgentConfig/import/readHistories";
  params: ExternalAgentConfigImportHistoriesReadParams;
} | {
  method: "command/exec/resize";
  params: CommandExecResizeParams;
};
