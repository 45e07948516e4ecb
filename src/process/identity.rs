//! Process identity and liveness: `(pid, startTime, bootId)`, and signals that never hit a
//! reused PID.
//!
//! `startTime` is field 22 of `/proc/PID/stat`, parsed after the last `)` because field 2
//! (the command name) may itself hold spaces and parentheses. A signal to a recorded process
//! opens a pidfd first, then checks the start time again, then signals through the pidfd:
//! once the pidfd is open the PID cannot be recycled under it.

use std::fs;
use std::io;
use std::sync::OnceLock;

use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};
use serde::{Deserialize, Serialize};

/// A process named so that a reused PID never matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub pid: i32,
    pub start_time: u64,
    pub boot_id: String,
}

/// The fields of `/proc/PID/stat` that supervision needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    /// Field 3: `R`, `S`, `Z`, ...
    pub state: u8,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    /// Field 22, clock ticks since boot.
    pub start_time: u64,
}

impl ProcStat {
    /// True when the process has exited and waits to be reaped.
    pub fn is_zombie(&self) -> bool {
        self.state == b'Z' || self.state == b'X'
    }
}

/// Parses the text of `/proc/PID/stat`.
pub fn parse_stat(pid: i32, text: &str) -> Option<ProcStat> {
    let close = text.rfind(')')?;
    // After the command name: field 3 (state) is the first token.
    let mut fields = text.get(close + 1..)?.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgid = fields.next()?.parse().ok()?;
    let sid = fields.next()?.parse().ok()?;
    // Fields 7..=21 are skipped; field 22 is the 19th token after the name.
    let start_time = fields.nth(15)?.parse().ok()?;
    Some(ProcStat {
        pid,
        state,
        ppid,
        pgid,
        sid,
        start_time,
    })
}

/// Reads `/proc/PID/stat`; `NotFound` when there is no such process.
pub fn read_stat(pid: i32) -> io::Result<ProcStat> {
    let path = format!("/proc/{pid}/stat");
    // A sweep reads this file for every process on the machine. The line is a few hundred
    // bytes: read into a buffer of that size, one `read` and the one that says end of file,
    // where `read_to_string` asks for the (zero) size, then grows from 32 bytes over ~5 reads.
    let mut buf = [0u8; 2048];
    let mut file = fs::File::open(&path)?;
    let mut len = 0;
    loop {
        match io::Read::read(&mut file, &mut buf[len..])? {
            0 => break,
            n => len += n,
        }
        if len == buf.len() {
            // Never seen; read the whole file as before rather than cut it.
            let text = fs::read_to_string(&path)?;
            return parse_stat(pid, &text).ok_or_else(|| unparsable(pid));
        }
    }
    let text = std::str::from_utf8(&buf[..len]).map_err(|_| unparsable(pid))?;
    parse_stat(pid, text).ok_or_else(|| unparsable(pid))
}

fn unparsable(pid: i32) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("cannot parse /proc/{pid}/stat"),
    )
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`), read once.
pub fn boot_id() -> io::Result<String> {
    static BOOT_ID: OnceLock<String> = OnceLock::new();
    if let Some(id) = BOOT_ID.get() {
        return Ok(id.clone());
    }
    let id = fs::read_to_string("/proc/sys/kernel/random/boot_id")?
        .trim()
        .to_owned();
    Ok(BOOT_ID.get_or_init(|| id).clone())
}

/// The identity of a live process.
pub fn of_pid(pid: i32) -> io::Result<Identity> {
    let stat = read_stat(pid)?;
    Ok(Identity {
        pid,
        start_time: stat.start_time,
        boot_id: boot_id()?,
    })
}

/// The identity of this process.
pub fn current() -> io::Result<Identity> {
    of_pid(std::process::id() as i32)
}

/// True only when a process with this pid, start time and boot id exists and has not exited.
pub fn is_alive(identity: &Identity) -> bool {
    match boot_id() {
        Ok(boot) if boot == identity.boot_id => {}
        Ok(_) | Err(_) => return false,
    }
    match read_stat(identity.pid) {
        Ok(stat) => stat.start_time == identity.start_time && !stat.is_zombie(),
        Err(_) => false,
    }
}

/// What became of a signal to a recorded process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalOutcome {
    /// The process matched its identity and was signalled.
    Sent,
    /// No process with that identity exists (gone, or the PID now names another process).
    NotThatProcess,
}

/// Sends `signal` to the process only if it still is the recorded one.
pub fn signal(identity: &Identity, signal: Signal) -> io::Result<SignalOutcome> {
    if boot_id()? != identity.boot_id {
        return Ok(SignalOutcome::NotThatProcess);
    }
    let Some(pid) = Pid::from_raw(identity.pid) else {
        return Ok(SignalOutcome::NotThatProcess);
    };
    let pidfd = match pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::SRCH) => return Ok(SignalOutcome::NotThatProcess),
        Err(err) => return Err(err.into()),
    };
    // The pidfd pins the process: if the start time matches now, it is the recorded one.
    match read_stat(identity.pid) {
        Ok(stat) if stat.start_time == identity.start_time => {}
        Ok(_) | Err(_) => return Ok(SignalOutcome::NotThatProcess),
    }
    match pidfd_send_signal(&pidfd, signal) {
        Ok(()) => Ok(SignalOutcome::Sent),
        Err(rustix::io::Errno::SRCH) => Ok(SignalOutcome::NotThatProcess),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_parens_and_spaces_in_the_name() {
        let text = "4242 (we ird) (name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        let stat = parse_stat(4242, text).unwrap();
        assert_eq!(stat.state, b'S');
        assert_eq!(stat.ppid, 1);
        assert_eq!(stat.pgid, 4242);
        assert_eq!(stat.sid, 4242);
        assert_eq!(stat.start_time, 987654);
    }

    #[test]
    fn own_identity_is_alive_and_a_wrong_start_time_is_not() {
        let me = current().unwrap();
        assert!(is_alive(&me));
        let other = Identity {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        assert!(!is_alive(&other));
        assert_eq!(
            signal(&other, Signal::KILL).unwrap(),
            SignalOutcome::NotThatProcess
        );
    }

    #[test]
    fn read_stat_reads_what_the_whole_file_says_and_no_process_is_not_found() {
        let pid = std::process::id() as i32;
        let whole = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let expected = parse_stat(pid, &whole).unwrap();
        let got = read_stat(pid).unwrap();
        assert_eq!(
            (got.pid, got.ppid, got.pgid, got.sid, got.start_time),
            (
                expected.pid,
                expected.ppid,
                expected.pgid,
                expected.sid,
                expected.start_time
            )
        );
        // Above the kernel's largest pid (4,194,304): never a process.
        let err = read_stat(i32::MAX).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
