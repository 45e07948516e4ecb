// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { AgentMessageDeltaNotification } from "./AgentMessageDeltaNotification";
import type { CommandExecOutputDeltaNotification } from "./CommandExecOutputDeltaNotification";
import type { CommandExecutionOutputDeltaNotification } from "./CommandExecutionOutputDeltaNotification";
import type { DeprecationNoticeNotification } from "./DeprecationNoticeNotification";
import type { ErrorNotification } from "./ErrorNotification";
import type { ExternalAgentConfigImportCompletedNotification } from "./ExternalAgentConfigImportCompletedNotification";
import type { ExternalAgentConfigImportProgressNotification } from "./ExternalAgentConfigImportProgressNotification";
import type { ItemCompletedNotification } from "./ItemCompletedNotification";
import type { ItemStartedNotification } from "./ItemStartedNotification";
import type { ReasoningSummaryPartAddedNotification } from "./ReasoningSummaryPartAddedNotification";
import type { ReasoningSummaryTextDeltaNotification } from "./ReasoningSummaryTextDeltaNotification";
import type { ReasoningTextDeltaNotification } from "./ReasoningTextDeltaNotification";
import type { ServerRequestResolvedNotification } from "./ServerRequestResolvedNotification";
import type { ThreadArchivedNotification } from "./ThreadArchivedNotification";
import type { ThreadClosedNotification } from "./ThreadClosedNotification";
import type { ThreadDeletedNotification } from "./ThreadDeletedNotification";
import type { ThreadGoalClearedNotification } from "./ThreadGoalClearedNotification";
import type { ThreadGoalUpdatedNotification } from "./ThreadGoalUpdatedNotification";
import type { ThreadNameUpdatedNotification } from "./ThreadNameUpdatedNotification";
import type { ThreadStartedNotification } from "./ThreadStartedNotification";
import type { ThreadStatusChangedNotification } from "./ThreadStatusChangedNotification";
import type { ThreadTokenUsageUpdatedNotification } from "./ThreadTokenUsageUpdatedNotification";
import type { ThreadUnarchivedNotification } from "./ThreadUnarchivedNotification";
import type { TurnCompletedNotification } from "./TurnCompletedNotification";
import type { TurnDiffUpdatedNotification } from "./TurnDiffUpdatedNotification";
import type { TurnStartedNotification } from "./TurnStartedNotification";
import type { WarningNotification } from "./WarningNotification";

/**
 * A notification from the server, by method. Serializes as `{"method","params"}`.
 */
export type ServerNotification = {
  method: "error";
  params: ErrorNotification;
} | {
  method: "warning";
  params: WarningNotification;
} | {
  method: "deprecationNotice";
  params: DeprecationNoticeNotification;
} | {
  method: "thread/started";
  params: ThreadStartedNotification;
} | {
  method: "thread/status/changed";
  params: ThreadStatusChangedNotification;
} | {
  method: "thread/archived";
  params: ThreadArchivedNotification;
} | {
  method: "thread/unarchived";
  params: ThreadUnarchivedNotification;
} | {
  method: "thread/closed";
  params: ThreadClosedNotification;
} | {
  method: "thread/deleted";
  params: ThreadDeletedNotification;
} | {
  method: "thread/goal/updated";
  params: ThreadGoalUpdatedNotification;
} | {
  method: "thread/goal/cleared";
  params: ThreadGoalClearedNotification;
} | {
  method: "thread/name/updated";
  params: ThreadNameUpdatedNotification;
} | {
  method: "thread/tokenUsage/updated";
  params: ThreadTokenUsageUpdatedNotification;
} | {
  method: "turn/started";
  params: TurnStartedNotification;
} | {
  method: "turn/completed";
  params: TurnCompletedNotification;
} | {
  method: "turn/diff/updated";
  params: TurnDiffUpdatedNotification;
} | {
  method: "item/started";
  params: ItemStartedNotification;
} | {
  method: "item/completed";
  params: ItemCompletedNotification;
} | {
  method: "item/agentMessage/delta";
  params: AgentMessageDeltaNotification;
} | {
  method: "item/reasoning/summaryTextDelta";
  params: ReasoningSummaryTextDeltaNotification;
} | {
  method: "item/reasoning/summaryPartAdded";
  params: ReasoningSummaryPartAddedNotification;
} | {
  method: "item/reasoning/textDelta";
  params: ReasoningTextDeltaNotification;
} | {
  method: "item/commandExecution/outputDelta";
  params: CommandExecutionOutputDeltaNotification;
} | {
  method: "command/exec/outputDelta";
  params: CommandExecOutputDeltaNotification;
} | {
  method: "serverRequest/resolved";
  params: ServerRequestResolvedNotification;
} | {
  method: "externalAgentConfig/import/progress";
  params: ExternalAgentConfigImportProgressNotification;
} | {
  method: "externalAgentConfig/import/completed";
  params: ExternalAgentConfigImportCompletedNotification;
};
