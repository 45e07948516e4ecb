//! `agent-host command-supervisor --control-fd N` (hidden): the supervisor of one
//! `command/exec` command, started by the server for each command. Its stdin, stdout and
//! stderr are the command's; it writes nothing of its own there.

use std::io;

/// Runs the command whose spec arrives on the control socket `control_fd`
/// ([`crate::process::command::supervisor::run`]).
pub(super) fn run(control_fd: i32) -> io::Result<()> {
    crate::process::command::supervisor::run(control_fd)
}
