//! The method table: every method of the protocol is declared once here, and the request,
//! notification and server-request enums, their dispatch and the schema listing are
//! generated from it.
//!
//! To add a client method, add one line to `client_request_definitions!` below (and the
//! params/response types to their area module); likewise for notifications and server
//! requests.

use schemars::{JsonSchema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::approval::{
    CommandExecutionRequestApprovalParams, CommandExecutionRequestApprovalResponse,
    FileChangeRequestApprovalParams, FileChangeRequestApprovalResponse,
};
use super::command_exec::{
    CommandExecOutputDeltaNotification, CommandExecParams, CommandExecResizeParams,
    CommandExecResizeResponse, CommandExecResponse, CommandExecTerminateParams,
    CommandExecTerminateResponse, CommandExecWriteParams, CommandExecWriteResponse,
};
use super::external_agent::{
    ExternalAgentConfigDetectParams, ExternalAgentConfigDetectResponse,
    ExternalAgentConfigImportCompletedNotification, ExternalAgentConfigImportHistoriesReadParams,
    ExternalAgentConfigImportHistoriesReadResponse, ExternalAgentConfigImportHistoryRecordParams,
    ExternalAgentConfigImportHistoryRecordResponse, ExternalAgentConfigImportParams,
    ExternalAgentConfigImportProgressNotification, ExternalAgentConfigImportResponse,
};
use super::info::{
    ConfigReadParams, ConfigReadResponse, GetAccountParams, GetAccountResponse, ModelListParams,
    ModelListResponse,
};
use super::initialize::{InitializeParams, InitializeResponse};
use super::notification::{
    AgentMessageDeltaNotification, CommandExecutionOutputDeltaNotification,
    DeprecationNoticeNotification, ErrorNotification, ItemCompletedNotification,
    ItemStartedNotification, ReasoningSummaryPartAddedNotification,
    ReasoningSummaryTextDeltaNotification, ReasoningTextDeltaNotification,
    ServerRequestResolvedNotification, ThreadArchivedNotification, ThreadClosedNotification,
    ThreadNameUpdatedNotification, ThreadStartedNotification, ThreadStatusChangedNotification,
    ThreadTokenUsageUpdatedNotification, ThreadUnarchivedNotification, TurnCompletedNotification,
    TurnDiffUpdatedNotification, TurnStartedNotification, WarningNotification,
};
use super::review::{ReviewStartParams, ReviewStartResponse};
use super::thread_delete::{
    ThreadDeleteParams, ThreadDeleteResponse, ThreadDeletedNotification, ThreadMemoryModeSetParams,
    ThreadMemoryModeSetResponse,
};
use super::thread_goal::{
    ThreadGoalClearParams, ThreadGoalClearResponse, ThreadGoalClearedNotification,
    ThreadGoalGetParams, ThreadGoalGetResponse, ThreadGoalSetParams, ThreadGoalSetResponse,
    ThreadGoalUpdatedNotification,
};
use super::thread_methods::{
    ThreadArchiveParams, ThreadArchiveResponse, ThreadForkParams, ThreadForkResponse,
    ThreadListParams, ThreadListResponse, ThreadLoadedListParams, ThreadLoadedListResponse,
    ThreadNameSetParams, ThreadNameSetResponse, ThreadReadParams, ThreadReadResponse,
    ThreadResumeParams, ThreadResumeResponse, ThreadStartParams, ThreadStartResponse,
    ThreadUnarchiveParams, ThreadUnarchiveResponse, ThreadUnsubscribeParams,
    ThreadUnsubscribeResponse,
};
use super::turn::{
    TurnInterruptParams, TurnInterruptResponse, TurnStartParams, TurnStartResponse,
    TurnSteerParams, TurnSteerResponse,
};

/// A method and the schema names of its types (the Rust type names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodSignature {
    pub method: &'static str,
    pub params: &'static str,
    /// The result type; `None` for notifications.
    pub result: Option<&'static str>,
}

/// Why a client request could not be turned into a [`ClientRequest`]. The `Display` text
/// is the serde-style message Codex puts after `Invalid request: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestParseError {
    /// The method is not in the table.
    #[error("unknown variant `{method}`, expected one of {}", expected_methods())]
    UnknownMethod { method: String },
    /// `params` was absent or `null`; every method but those without params (whose params
    /// type takes `null`) requires a params object.
    #[error("missing field `params`")]
    MissingParams { method: &'static str },
    /// `params` did not fit the method's params type. The message names the field and the
    /// expected type, e.g. ``invalid type: integer `123`, expected a string at `threadId` ``.
    #[error("{message}")]
    InvalidParams {
        method: &'static str,
        message: String,
    },
}

/// The signature of a client method, if it is in the table.
pub fn client_request_signature(method: &str) -> Option<MethodSignature> {
    CLIENT_REQUEST_SIGNATURES
        .iter()
        .find(|signature| signature.method == method)
        .copied()
}

fn expected_methods() -> String {
    CLIENT_METHODS
        .iter()
        .map(|method| format!("`{method}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deserializes `params` into `T`, naming the path of the offending field on failure.
fn parse_params<T: serde::de::DeserializeOwned>(
    method: &'static str,
    params: Option<Value>,
) -> Result<T, RequestParseError> {
    let params = match params {
        // Only a method whose params type takes `null` (one without params) goes on.
        None | Some(Value::Null) => {
            return T::deserialize(Value::Null)
                .map_err(|_| RequestParseError::MissingParams { method });
        }
        Some(params) => params,
    };
    serde_path_to_error::deserialize(params).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = if path == "." {
            inner.to_string()
        } else {
            format!("{inner} at `{path}`")
        };
        RequestParseError::InvalidParams { method, message }
    })
}

macro_rules! client_request_definitions {
    ($($variant:ident => $method:literal ($params:ident) -> $response:ident,)*) => {
        /// A request from the client, by method. Serializes as `{"method","params"}`.
        #[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
        #[serde(tag = "method", content = "params")]
        pub enum ClientRequest {
            $(
                #[serde(rename = $method)]
                $variant($params),
            )*
        }

        impl ClientRequest {
            /// Parses a request's method and params. Unknown members inside params are
            /// ignored; absent or `null` params are an error.
            pub fn parse(
                method: &str,
                params: Option<Value>,
            ) -> Result<ClientRequest, RequestParseError> {
                match method {
                    $($method => Ok(ClientRequest::$variant(parse_params($method, params)?)),)*
                    _ => Err(RequestParseError::UnknownMethod { method: method.to_owned() }),
                }
            }

            /// The wire name of the method.
            pub fn method(&self) -> &'static str {
                match self {
                    $(ClientRequest::$variant(_) => $method,)*
                }
            }
        }

        /// Deserializes a result of `method` into its response type and serializes it back to
        /// text; `None` for a method not in the table. Lets tests round-trip captured results.
        #[cfg(test)]
        pub(crate) fn reserialize_response(
            method: &str,
            result: &str,
        ) -> Option<Result<String, serde_json::Error>> {
            match method {
                $($method => Some(
                    serde_json::from_str::<$response>(result)
                        .and_then(|response| serde_json::to_string(&response)),
                ),)*
                _ => None,
            }
        }

        /// Every client method name, in table order.
        pub const CLIENT_METHODS: &[&str] = &[$($method,)*];

        /// Every client method with its params and result type names.
        pub const CLIENT_REQUEST_SIGNATURES: &[MethodSignature] = &[$(
            MethodSignature {
                method: $method,
                params: stringify!($params),
                result: Some(stringify!($response)),
            },
        )*];

        /// Adds the client requests' types to the generators: params to `input` (what the
        /// server reads), results to `output` (what it writes).
        pub fn add_client_request_schemas(
            input: &mut SchemaGenerator,
            output: &mut SchemaGenerator,
        ) {
            input.subschema_for::<ClientRequest>();
            $(
                input.subschema_for::<$params>();
                output.subschema_for::<$response>();
            )*
        }
    };
}

client_request_definitions! {
    Initialize => "initialize" (InitializeParams) -> InitializeResponse,
    ThreadStart => "thread/start" (ThreadStartParams) -> ThreadStartResponse,
    ThreadResume => "thread/resume" (ThreadResumeParams) -> ThreadResumeResponse,
    ThreadFork => "thread/fork" (ThreadForkParams) -> ThreadForkResponse,
    ThreadList => "thread/list" (ThreadListParams) -> ThreadListResponse,
    ThreadRead => "thread/read" (ThreadReadParams) -> ThreadReadResponse,
    ThreadLoadedList => "thread/loaded/list" (ThreadLoadedListParams) -> ThreadLoadedListResponse,
    ThreadUnsubscribe => "thread/unsubscribe" (ThreadUnsubscribeParams) -> ThreadUnsubscribeResponse,
    ThreadNameSet => "thread/name/set" (ThreadNameSetParams) -> ThreadNameSetResponse,
    ThreadArchive => "thread/archive" (ThreadArchiveParams) -> ThreadArchiveResponse,
    ThreadUnarchive => "thread/unarchive" (ThreadUnarchiveParams) -> ThreadUnarchiveResponse,
    ThreadDelete => "thread/delete" (ThreadDeleteParams) -> ThreadDeleteResponse,
    ThreadGoalSet => "thread/goal/set" (ThreadGoalSetParams) -> ThreadGoalSetResponse,
    ThreadGoalGet => "thread/goal/get" (ThreadGoalGetParams) -> ThreadGoalGetResponse,
    ThreadGoalClear => "thread/goal/clear" (ThreadGoalClearParams) -> ThreadGoalClearResponse,
    ThreadMemoryModeSet => "thread/memoryMode/set" (ThreadMemoryModeSetParams) -> ThreadMemoryModeSetResponse,
    TurnStart => "turn/start" (TurnStartParams) -> TurnStartResponse,
    TurnSteer => "turn/steer" (TurnSteerParams) -> TurnSteerResponse,
    TurnInterrupt => "turn/interrupt" (TurnInterruptParams) -> TurnInterruptResponse,
    ReviewStart => "review/start" (ReviewStartParams) -> ReviewStartResponse,
    CommandExec => "command/exec" (CommandExecParams) -> CommandExecResponse,
    CommandExecWrite => "command/exec/write" (CommandExecWriteParams) -> CommandExecWriteResponse,
    CommandExecTerminate => "command/exec/terminate" (CommandExecTerminateParams) -> CommandExecTerminateResponse,
    AccountRead => "account/read" (GetAccountParams) -> GetAccountResponse,
    ConfigRead => "config/read" (ConfigReadParams) -> ConfigReadResponse,
    ModelList => "model/list" (ModelListParams) -> ModelListResponse,
    ExternalAgentConfigDetect => "externalAgentConfig/detect" (ExternalAgentConfigDetectParams) -> ExternalAgentConfigDetectResponse,
    ExternalAgentConfigImport => "externalAgentConfig/import" (ExternalAgentConfigImportParams) -> ExternalAgentConfigImportResponse,
    ExternalAgentConfigImportHistoryRecord => "externalAgentConfig/import/recordHistory" (ExternalAgentConfigImportHistoryRecordParams) -> ExternalAgentConfigImportHistoryRecordResponse,
    ExternalAgentConfigImportHistoriesRead => "externalAgentConfig/import/readHistories" (ExternalAgentConfigImportHistoriesReadParams) -> ExternalAgentConfigImportHistoriesReadResponse,
    CommandExecResize => "command/exec/resize" (CommandExecResizeParams) -> CommandExecResizeResponse,
}

macro_rules! server_notification_definitions {
    ($($variant:ident => $method:literal ($params:ident),)*) => {
        /// A notification from the server, by method. Serializes as `{"method","params"}`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(tag = "method", content = "params")]
        // A message is built, written and dropped at once; boxing the big variants would
        // only make every constructor noisier.
        #[allow(clippy::large_enum_variant)]
        pub enum ServerNotification {
            $(
                #[serde(rename = $method)]
                $variant($params),
            )*
        }

        impl ServerNotification {
            /// The wire name of the method (what `optOutNotificationMethods` matches).
            pub fn method(&self) -> &'static str {
                match self {
                    $(ServerNotification::$variant(_) => $method,)*
                }
            }

            /// The params as a JSON value.
            pub fn params_value(&self) -> Result<Value, serde_json::Error> {
                match self {
                    $(ServerNotification::$variant(params) => serde_json::to_value(params),)*
                }
            }

            /// The params as JSON text: the same text as [`Self::params_value`] serialized,
            /// without the `Value` tree in between.
            pub fn params_json(&self) -> Result<Vec<u8>, serde_json::Error> {
                match self {
                    $(ServerNotification::$variant(params) => serde_json::to_vec(params),)*
                }
            }
        }

        /// Every server notification method name, in table order.
        pub const SERVER_NOTIFICATION_METHODS: &[&str] = &[$($method,)*];

        /// Every server notification with its params type name.
        pub const SERVER_NOTIFICATION_SIGNATURES: &[MethodSignature] = &[$(
            MethodSignature { method: $method, params: stringify!($params), result: None },
        )*];

        /// Adds the notifications' types to the generator of what the server writes.
        pub fn add_server_notification_schemas(output: &mut SchemaGenerator) {
            output.subschema_for::<ServerNotification>();
            $(output.subschema_for::<$params>();)*
        }
    };
}

server_notification_definitions! {
    Error => "error" (ErrorNotification),
    Warning => "warning" (WarningNotification),
    DeprecationNotice => "deprecationNotice" (DeprecationNoticeNotification),
    ThreadStarted => "thread/started" (ThreadStartedNotification),
    ThreadStatusChanged => "thread/status/changed" (ThreadStatusChangedNotification),
    ThreadArchived => "thread/archived" (ThreadArchivedNotification),
    ThreadUnarchived => "thread/unarchived" (ThreadUnarchivedNotification),
    ThreadClosed => "thread/closed" (ThreadClosedNotification),
    ThreadDeleted => "thread/deleted" (ThreadDeletedNotification),
    ThreadGoalUpdated => "thread/goal/updated" (ThreadGoalUpdatedNotification),
    ThreadGoalCleared => "thread/goal/cleared" (ThreadGoalClearedNotification),
    ThreadNameUpdated => "thread/name/updated" (ThreadNameUpdatedNotification),
    ThreadTokenUsageUpdated => "thread/tokenUsage/updated" (ThreadTokenUsageUpdatedNotification),
    TurnStarted => "turn/started" (TurnStartedNotification),
    TurnCompleted => "turn/completed" (TurnCompletedNotification),
    TurnDiffUpdated => "turn/diff/updated" (TurnDiffUpdatedNotification),
    ItemStarted => "item/started" (ItemStartedNotification),
    ItemCompleted => "item/completed" (ItemCompletedNotification),
    AgentMessageDelta => "item/agentMessage/delta" (AgentMessageDeltaNotification),
    ReasoningSummaryTextDelta => "item/reasoning/summaryTextDelta" (ReasoningSummaryTextDeltaNotification),
    ReasoningSummaryPartAdded => "item/reasoning/summaryPartAdded" (ReasoningSummaryPartAddedNotification),
    ReasoningTextDelta => "item/reasoning/textDelta" (ReasoningTextDeltaNotification),
    CommandExecutionOutputDelta => "item/commandExecution/outputDelta" (CommandExecutionOutputDeltaNotification),
    CommandExecOutputDelta => "command/exec/outputDelta" (CommandExecOutputDeltaNotification),
    ServerRequestResolved => "serverRequest/resolved" (ServerRequestResolvedNotification),
    ExternalAgentConfigImportProgress => "externalAgentConfig/import/progress" (ExternalAgentConfigImportProgressNotification),
    ExternalAgentConfigImportCompleted => "externalAgentConfig/import/completed" (ExternalAgentConfigImportCompletedNotification),
}

macro_rules! server_request_definitions {
    ($($variant:ident => $method:literal ($params:ident) -> $response:ident,)*) => {
        /// A request from the server to the client, by method. Serializes as
        /// `{"method","params"}`; the JSON-RPC layer adds the id.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(tag = "method", content = "params")]
        // A message is built, written and dropped at once; boxing the big variants would
        // only make every constructor noisier.
        #[allow(clippy::large_enum_variant)]
        pub enum ServerRequest {
            $(
                #[serde(rename = $method)]
                $variant($params),
            )*
        }

        /// The client's answer to a [`ServerRequest`], by method.
        #[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
        #[serde(untagged)]
        pub enum ServerRequestResponse {
            $($variant($response),)*
        }

        impl ServerRequest {
            /// The wire name of the method.
            pub fn method(&self) -> &'static str {
                match self {
                    $(ServerRequest::$variant(_) => $method,)*
                }
            }

            /// The params as a JSON value.
            pub fn params_value(&self) -> Result<Value, serde_json::Error> {
                match self {
                    $(ServerRequest::$variant(params) => serde_json::to_value(params),)*
                }
            }

            /// Parses the client's `result` for this request. An error here (say an unknown
            /// decision) is to be treated like a JSON-RPC error reply.
            pub fn parse_response(
                &self,
                result: Value,
            ) -> Result<ServerRequestResponse, serde_json::Error> {
                match self {
                    $(ServerRequest::$variant(_) => {
                        serde_json::from_value(result).map(ServerRequestResponse::$variant)
                    })*
                }
            }
        }

        /// Every server request method name, in table order.
        pub const SERVER_REQUEST_METHODS: &[&str] = &[$($method,)*];

        /// Every server request with its params and result type names.
        pub const SERVER_REQUEST_SIGNATURES: &[MethodSignature] = &[$(
            MethodSignature {
                method: $method,
                params: stringify!($params),
                result: Some(stringify!($response)),
            },
        )*];

        /// Adds the server requests' types to the generators: params to `output` (what the
        /// server writes), results to `input` (what it reads).
        pub fn add_server_request_schemas(
            input: &mut SchemaGenerator,
            output: &mut SchemaGenerator,
        ) {
            output.subschema_for::<ServerRequest>();
            $(
                output.subschema_for::<$params>();
                input.subschema_for::<$response>();
            )*
        }
    };
}

server_request_definitions! {
    CommandExecutionRequestApproval => "item/commandExecution/requestApproval" (CommandExecutionRequestApprovalParams) -> CommandExecutionRequestApprovalResponse,
    FileChangeRequestApproval => "item/fileChange/requestApproval" (FileChangeRequestApprovalParams) -> FileChangeRequestApprovalResponse,
}

macro_rules! client_notification_definitions {
    ($($variant:ident => $method:literal,)*) => {
        /// A notification from the client. None of them carries params we use.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ClientNotification {
            $($variant,)*
        }

        impl ClientNotification {
            /// The notification of that method; `None` for an unknown one (to be ignored).
            pub fn parse(method: &str) -> Option<ClientNotification> {
                match method {
                    $($method => Some(ClientNotification::$variant),)*
                    _ => None,
                }
            }

            /// The wire name of the method.
            pub fn method(&self) -> &'static str {
                match self {
                    $(ClientNotification::$variant => $method,)*
                }
            }
        }

        /// Every client notification method name.
        pub const CLIENT_NOTIFICATION_METHODS: &[&str] = &[$($method,)*];
    };
}

client_notification_definitions! {
    Initialized => "initialized",
}
