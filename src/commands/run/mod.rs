//! `agent-host run [PROMPT]`: one turn from the terminal, as `codex exec` runs one, through
//! an in-process server spoken to with the protocol ([`super::client`]), the same code
//! `app-server` runs: `thread/start` (or `thread/resume` with `--continue`), `turn/start`,
//! and the notifications shown as they come ([`view`]) while [`follow`] answers approvals
//! and turns Ctrl-C into `turn/interrupt`. Nothing of a turn's life is done here that a
//! client could not do. `resume THREAD PROMPT` follows its turn with the same [`follow`].

pub(super) mod follow;
mod style;
pub(super) mod view;

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};

use super::client::{Client, ClientError};
use super::resume::{self, Resumed};
use super::thread_command::{self, ThreadCommandError};
use crate::cli::RunArgs;
use crate::protocol::{
    ClientRequest, ThreadLoadedListParams, ThreadStartParams, TurnStartParams, TurnStartResponse,
    UserInput,
};
use follow::{Approvals, Followed};
use style::Styling;

/// Where the turn runs and how it is shown, from the command line.
struct Plan {
    prompt: String,
    thread: ThreadChoice,
    model: Option<String>,
    background: Background,
    json: bool,
    approvals: Approvals,
    /// The configuration file (the one given, else the default path), for hints.
    config_file: Option<PathBuf>,
}

/// A new thread, or one to continue.
enum ThreadChoice {
    New {
        provider: Option<String>,
        cwd: PathBuf,
    },
    Continue(String),
}

/// Whether the command waits for the turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Background {
    Yes,
    No,
}

/// Runs the command.
pub(super) fn run(args: RunArgs) -> Result<ExitCode, ThreadCommandError> {
    let (plan, common) = plan(args)?;
    let opened = thread_command::open(common)?;
    thread_command::block_on(async move {
        let mut client = Client::start(opened).await?;
        let outcome = drive(&mut client, plan).await;
        client.close().await;
        outcome
    })?
}

/// Reads the command line (and the prompt from stdin when it says so) into a [`Plan`].
fn plan(args: RunArgs) -> Result<(Plan, crate::cli::CommonOptions), ThreadCommandError> {
    let from_stdin = matches!(args.prompt.as_deref(), None | Some("-"));
    let prompt = match args.prompt {
        Some(prompt) if prompt != "-" => prompt,
        _ => read_stdin()?,
    };
    if prompt.trim().is_empty() {
        return Err(ThreadCommandError::Refused(
            "no prompt: give one as an argument, or on stdin".to_owned(),
        ));
    }
    let approvals = match (args.yes, args.no) {
        (true, _) => Approvals::Accept,
        (false, true) => Approvals::Decline,
        (false, false) if !from_stdin && std::io::stdin().is_terminal() => Approvals::Ask,
        (false, false) => Approvals::Decline,
    };
    let thread = match args.continue_thread {
        Some(thread) => ThreadChoice::Continue(thread),
        None => {
            let here = std::env::current_dir().map_err(|err| {
                ThreadCommandError::Refused(format!("cannot read the current directory: {err}"))
            })?;
            let cwd = args.cwd.map_or_else(|| here.clone(), |dir| here.join(dir));
            ThreadChoice::New {
                provider: args.provider,
                cwd,
            }
        }
    };
    let plan = Plan {
        prompt,
        thread,
        model: args.model,
        background: if args.background {
            Background::Yes
        } else {
            Background::No
        },
        json: args.json,
        approvals,
        config_file: args
            .common
            .config
            .clone()
            .or_else(crate::config::default_config_path),
    };
    Ok((plan, args.common))
}

fn read_stdin() -> Result<String, ThreadCommandError> {
    if std::io::stdin().is_terminal() {
        // Someone is typing: say what is read, and how to end it.
        let _ = writeln!(
            std::io::stderr().lock(),
            "the prompt, then Ctrl-D on a line of its own:"
        );
    }
    let mut prompt = String::new();
    std::io::stdin()
        .read_to_string(&mut prompt)
        .map_err(|err| ThreadCommandError::Refused(format!("cannot read the prompt: {err}")))?;
    Ok(prompt.trim_end_matches('\n').to_owned())
}

/// Opens the thread, starts the turn, and follows it (or leaves it in the background).
async fn drive(client: &mut Client, plan: Plan) -> Result<ExitCode, ThreadCommandError> {
    let thread = open_thread(client, &plan.thread, &plan.model).await?;
    // From here on Ctrl-C is ours: it interrupts the turn instead of ending the process.
    let interrupts = follow::ctrl_c()?;
    // A round trip: whatever opening the thread sent (`thread/started`, a resumed thread's
    // status and usage) has arrived before the answer, and is not part of the turn shown.
    client
        .call(ClientRequest::ThreadLoadedList(
            ThreadLoadedListParams::default(),
        ))
        .await?;
    client.clear_pending();
    let request = turn_start(&thread, plan.prompt, plan.model, plan.background);
    let started = client.call(request).await?;
    let turn = serde_json::from_value::<TurnStartResponse>(started)
        .map_err(|err| ClientError::Broken(format!("answered turn/start with: {err}")))?
        .turn;
    if plan.background == Background::Yes {
        return print_background(&thread, &turn.id, plan.json);
    }
    let stdout = std::io::stdout();
    let approvals = plan.approvals;
    if plan.json {
        let view = view::Json { out: stdout };
        return follow_with(client, (&thread, &turn.id), view, approvals, interrupts).await;
    }
    let view = view::Text::new(stdout, Styling::detect(), &thread, &turn.id)
        .with_config_file(plan.config_file);
    follow_with(client, (&thread, &turn.id), view, approvals, interrupts).await
}

/// Follows the turn (`thread`, `turn`) with `view` to its end.
async fn follow_with<V: follow::View>(
    client: &mut Client,
    (thread, turn): (&str, &str),
    view: V,
    approvals: Approvals,
    interrupts: tokio::signal::unix::Signal,
) -> Result<ExitCode, ThreadCommandError> {
    Followed {
        client,
        thread: thread.to_owned(),
        turn: turn.to_owned(),
        view,
        approvals,
    }
    .run(interrupts)
    .await
}

/// `thread/start` on the provider in the directory, or `thread/resume` of the thread named;
/// the thread's id.
async fn open_thread(
    client: &mut Client,
    choice: &ThreadChoice,
    model: &Option<String>,
) -> Result<String, ThreadCommandError> {
    match choice {
        ThreadChoice::Continue(thread) => match resume::resume(client, thread).await? {
            Resumed::Live(found) => Ok(found.id),
            Resumed::Archived(_) => Err(ThreadCommandError::Refused(format!(
                "thread {thread} is archived; run `agent-host unarchive {thread}` to continue it"
            ))),
        },
        ThreadChoice::New { provider, cwd } => {
            let cwd = cwd.to_str().ok_or_else(|| {
                ThreadCommandError::Refused(format!("{} is not UTF-8", cwd.display()))
            })?;
            let request = ClientRequest::ThreadStart(ThreadStartParams {
                model: model.clone(),
                model_provider: provider.clone(),
                cwd: Some(cwd.to_owned()),
                ..ThreadStartParams::default()
            });
            let result: Value = client.call(request).await?;
            result["thread"]["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| ClientError::Broken(format!("answered thread/start with {result}")))
                .map_err(ThreadCommandError::from)
        }
    }
}

/// The `turn/start` of a turn with `prompt` as its text.
pub(super) fn turn_start(
    thread: &str,
    prompt: String,
    model: Option<String>,
    background: Background,
) -> ClientRequest {
    ClientRequest::TurnStart(TurnStartParams {
        thread_id: thread.to_owned(),
        input: vec![UserInput::Text {
            text: prompt,
            text_elements: Vec::new(),
        }],
        cwd: None,
        approval_policy: None,
        approvals_reviewer: None,
        sandbox_policy: None,
        model,
        service_tier: None,
        effort: None,
        summary: None,
        personality: None,
        output_schema: None,
        client_user_message_id: None,
        background: (background == Background::Yes).then_some(true),
    })
}

/// A turn left in the background: its ids, and how to follow and stop it.
fn print_background(thread: &str, turn: &str, json: bool) -> Result<ExitCode, ThreadCommandError> {
    let text = if json {
        format!("{}\n", json!({"threadId": thread, "turnId": turn}))
    } else {
        format!(
            "started turn {turn} of thread {thread} in the background\n\
             follow it: agent-host logs -f {turn}\n\
             stop it:   agent-host kill {turn}\n"
        )
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(ThreadCommandError::Print)?;
    Ok(ExitCode::SUCCESS)
}
