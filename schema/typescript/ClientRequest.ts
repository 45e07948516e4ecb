// GENERATED CODE! DO NOT MODIFY BY HAND!
// Made by `agent-host app-server generate-ts` from agent-host's protocol types.

import type { CommandExecParams } from "./CommandExecParams";
import type { CommandExecTerminateParams } from "./CommandExecTerminateParams";
import type { CommandExecWriteParams } from "./CommandExecWriteParams";
import type { InitializeParams } from "./InitializeParams";
import type { ThreadArchiveParams } from "./ThreadArchiveParams";
import type { ThreadForkParams } from "./ThreadForkParams";
import type { ThreadListParams } from "./ThreadListParams";
import type { ThreadLoadedListParams } from "./ThreadLoadedListParams";
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
  method: "turn/start";
  params: TurnStartParams;
} | {
  method: "turn/steer";
  params: TurnSteerParams;
} | {
  method: "turn/interrupt";
  params: TurnInterruptParams;
} | {
  method: "command/exec";
  params: CommandExecParams;
} | {
  method: "command/exec/write";
  params: CommandExecWriteParams;
} | {
  method: "command/exec/terminate";
  params: CommandExecTerminateParams;
};
