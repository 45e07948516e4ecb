//! Confining a process without privileges: Landlock for the file system, a seccomp filter for
//! the network.
//!
//! Both are unprivileged on Linux, inherited by every descendant and irrevocable, so a
//! confined command and everything it starts stay confined. A [`Confinement`] is prepared in
//! the parent (the Landlock ruleset, its rules, the filter program: everything that allocates
//! or opens files) and applied in the child between `fork` and `exec`, where only
//! async-signal-safe system calls run.
//!
//! - **File system** ([`FileSystem::ReadOnly`]): every Landlock right that writes is handled
//!   (write, truncate, make, remove, rename across directories, and device `ioctl`s where the
//!   kernel knows those rights); reading and executing stay unhandled, so they are allowed
//!   everywhere. Writes are granted only beneath the listed writable paths and on the
//!   harmless devices `/dev/null`, `/dev/zero`, `/dev/full` and `/dev/tty`. Where the kernel
//!   has Landlock's signal scope (ABI 6), signals to processes outside the command are denied
//!   too. Descriptors opened before (the command's stdio, its terminal) are not affected.
//! - **Network** ([`Network::Denied`]): `socket(2)` of any family but `AF_UNIX` and
//!   `io_uring_setup(2)` (whose ring can open sockets past seccomp) fail with `EPERM`; a system
//!   call of a foreign architecture or of the x32 ABI fails likewise, so no other entry point
//!   opens a socket.
//!
//! Both need `no_new_privs`, which [`Confinement::apply`] sets: a set-user-id program runs
//! without its privileges.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// What a confined command may do to the file system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum FileSystem {
    /// No restriction.
    Unrestricted,
    /// Read and execute everywhere; write only beneath `writable` (and to the harmless
    /// devices).
    ReadOnly { writable: Vec<PathBuf> },
}

/// Whether a confined command may open network sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Network {
    Allowed,
    Denied,
}

/// The confinement of one command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub file_system: FileSystem,
    pub network: Network,
}

impl Policy {
    /// No confinement at all.
    pub fn unrestricted() -> Policy {
        Policy {
            file_system: FileSystem::Unrestricted,
            network: Network::Allowed,
        }
    }
}

/// The Landlock ABI version of this kernel, probed once; `None` when Landlock is missing or
/// disabled.
pub fn landlock_abi() -> Option<u32> {
    static ABI: OnceLock<Option<u32>> = OnceLock::new();
    *ABI.get_or_init(|| {
        // SAFETY: the version query takes no attribute and returns a number or -1.
        let version = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<RulesetAttr>(),
                0usize,
                CREATE_RULESET_VERSION,
            )
        };
        u32::try_from(version).ok().filter(|v| *v >= 1)
    })
}

/// True when this kernel filters system calls with seccomp.
pub fn seccomp_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    // SAFETY: PR_GET_SECCOMP reads the caller's mode; it fails with EINVAL without seccomp.
    *AVAILABLE.get_or_init(|| unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) } >= 0)
}

/// A confinement prepared in the parent, applied in the child by [`Confinement::apply`].
#[derive(Debug)]
pub struct Confinement {
    ruleset: Option<OwnedFd>,
    filter: Option<Vec<libc::sock_filter>>,
}

impl Confinement {
    /// Nothing to apply.
    pub fn none() -> Confinement {
        Confinement {
            ruleset: None,
            filter: None,
        }
    }

    /// Builds the Landlock ruleset and the seccomp program of `policy`. An error names what
    /// this kernel cannot do; nothing is ever applied partly.
    pub fn prepare(policy: &Policy) -> io::Result<Confinement> {
        let ruleset = match &policy.file_system {
            FileSystem::Unrestricted => None,
            FileSystem::ReadOnly { writable } => Some(read_only_ruleset(writable)?),
        };
        let filter = match policy.network {
            Network::Allowed => None,
            Network::Denied if seccomp_available() => Some(network_filter()),
            Network::Denied => {
                return Err(io::Error::other("seccomp is not available in this kernel"));
            }
        };
        Ok(Confinement { ruleset, filter })
    }

    /// True when there is nothing to apply.
    pub fn is_none(&self) -> bool {
        self.ruleset.is_none() && self.filter.is_none()
    }

    /// What the child applies: plain numbers, to be moved into the `pre_exec` closure. Valid
    /// while `self` lives (the spawn is synchronous, and the child applies it to its copy of
    /// our memory).
    pub(crate) fn raw(&self) -> RawConfinement {
        RawConfinement {
            ruleset: self.ruleset.as_ref().map(AsRawFd::as_raw_fd),
            filter: self
                .filter
                .as_ref()
                .map(|filter| (filter.as_ptr() as usize, filter.len() as u16)),
        }
    }
}

/// A [`Confinement`] as the child applies it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawConfinement {
    ruleset: Option<i32>,
    /// The filter program's address and length.
    filter: Option<(usize, u16)>,
}

impl RawConfinement {
    /// Confines the calling process: `no_new_privs`, then the Landlock ruleset, then the
    /// seccomp filter (last, so that it cannot deny the calls before it).
    ///
    /// # Safety
    /// Async-signal-safe: meant for the child between `fork` and `exec`; it makes at most
    /// three system calls and allocates nothing. The [`Confinement`] it came from must be
    /// alive in the parent at the fork.
    pub(crate) unsafe fn apply(self) -> io::Result<()> {
        if self.ruleset.is_none() && self.filter.is_none() {
            return Ok(());
        }
        // SAFETY: plain prctl and syscall invocations on values that outlive them.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if let Some(ruleset) = self.ruleset
                && libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) != 0
            {
                return Err(io::Error::last_os_error());
            }
            if let Some((address, len)) = self.filter {
                let program = libc::sock_fprog {
                    len,
                    filter: address as *mut libc::sock_filter,
                };
                let program: *const libc::sock_fprog = &program;
                if libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                    program as libc::c_ulong,
                    0,
                    0,
                ) != 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }
}

// Landlock's user API (linux/landlock.h).
const CREATE_RULESET_VERSION: u32 = 1;
const RULE_PATH_BENEATH: u32 = 1;
const WRITE_FILE: u64 = 1 << 1;
const REMOVE_DIR: u64 = 1 << 4;
const REMOVE_FILE: u64 = 1 << 5;
const MAKE_CHAR: u64 = 1 << 6;
const MAKE_DIR: u64 = 1 << 7;
const MAKE_REG: u64 = 1 << 8;
const MAKE_SOCK: u64 = 1 << 9;
const MAKE_FIFO: u64 = 1 << 10;
const MAKE_BLOCK: u64 = 1 << 11;
const MAKE_SYM: u64 = 1 << 12;
const REFER: u64 = 1 << 13;
const TRUNCATE: u64 = 1 << 14;
const IOCTL_DEV: u64 = 1 << 15;
const SCOPE_SIGNAL: u64 = 1 << 1;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The devices every confined command may write: writing them changes no file.
const WRITABLE_DEVICES: [&str; 4] = ["/dev/null", "/dev/zero", "/dev/full", "/dev/tty"];

/// The rights on a file (not a directory) that write, for this ABI.
fn file_write_rights(abi: u32) -> u64 {
    let mut rights = WRITE_FILE;
    if abi >= 3 {
        rights |= TRUNCATE;
    }
    if abi >= 5 {
        rights |= IOCTL_DEV;
    }
    rights
}

/// Every right that writes, for this ABI.
fn write_rights(abi: u32) -> u64 {
    let mut rights = file_write_rights(abi)
        | REMOVE_DIR
        | REMOVE_FILE
        | MAKE_CHAR
        | MAKE_DIR
        | MAKE_REG
        | MAKE_SOCK
        | MAKE_FIFO
        | MAKE_BLOCK
        | MAKE_SYM;
    if abi >= 2 {
        rights |= REFER;
    }
    rights
}

fn read_only_ruleset(writable: &[PathBuf]) -> io::Result<OwnedFd> {
    let abi = landlock_abi()
        .ok_or_else(|| io::Error::other("Landlock is not available in this kernel"))?;
    let attr = RulesetAttr {
        handled_access_fs: write_rights(abi),
        handled_access_net: 0,
        scoped: if abi >= 6 { SCOPE_SIGNAL } else { 0 },
    };
    // The attribute grew with the ABI: give the size this kernel knows.
    let size = match abi {
        1..=3 => 8,
        4 | 5 => 16,
        _ => std::mem::size_of::<RulesetAttr>(),
    };
    // SAFETY: `attr` is valid for `size` bytes; the call returns a new descriptor or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            size,
            0u32,
        )
    };
    let fd = i32::try_from(fd).map_err(|_| io::Error::last_os_error())?;
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    let ruleset = unsafe { OwnedFd::from_raw_fd(fd) };
    let devices = WRITABLE_DEVICES.iter().map(Path::new);
    for path in devices.chain(writable.iter().map(PathBuf::as_path)) {
        allow_writes(&ruleset, path, abi)?;
    }
    Ok(ruleset)
}

/// Grants the write rights beneath `path` (a directory) or on it (a file). A device that
/// does not exist is skipped; a writable path that does not exist is an error.
fn allow_writes(ruleset: &OwnedFd, path: &Path, abi: u32) -> io::Result<()> {
    let name = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::other(format!("{} holds a NUL byte", path.display())))?;
    // SAFETY: a plain open of a NUL-terminated path; the result is checked.
    let fd = unsafe { libc::open(name.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        let err = io::Error::last_os_error();
        if WRITABLE_DEVICES
            .iter()
            .any(|device| Path::new(device) == path)
        {
            return Ok(());
        }
        return Err(io::Error::new(
            err.kind(),
            format!("{}: {err}", path.display()),
        ));
    }
    // SAFETY: just opened.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let allowed_access = if path.is_dir() {
        write_rights(abi)
    } else {
        file_write_rights(abi)
    };
    let rule = PathBeneathAttr {
        allowed_access,
        parent_fd: fd.as_raw_fd(),
    };
    // SAFETY: `rule` is a valid path-beneath attribute for the call's duration.
    let added = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd(),
            RULE_PATH_BENEATH,
            &rule as *const PathBeneathAttr,
            0u32,
        )
    };
    if added != 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            err.kind(),
            format!("{}: {err}", path.display()),
        ));
    }
    Ok(())
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH_NATIVE: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH_NATIVE: u32 = 0xC000_00B7;
/// System call numbers at or above this are the x32 ABI (x86_64); none exist on aarch64.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
// Offsets in `struct seccomp_data`: nr, arch, instruction pointer, then args (the low half of
// args[0] first on these little-endian machines).
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;
const DATA_ARG0: u32 = 16;

fn load(offset: u32) -> libc::sock_filter {
    statement((libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16, offset)
}

fn statement(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(op: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_JMP | op | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    }
}

/// The network filter: `socket(2)` only for `AF_UNIX`, no `io_uring_setup(2)`, nothing of
/// another ABI. The jump offsets count the instructions skipped.
fn network_filter() -> Vec<libc::sock_filter> {
    let ret = |value: u32| statement((libc::BPF_RET | libc::BPF_K) as u16, value);
    let deny = ret(SECCOMP_RET_ERRNO | libc::EPERM as u32);
    let allow = ret(SECCOMP_RET_ALLOW);
    vec![
        /* 0 */ load(DATA_ARCH),
        /* 1 */ jump(libc::BPF_JEQ, AUDIT_ARCH_NATIVE, 0, 7),
        /* 2 */ load(DATA_NR),
        /* 3 */ jump(libc::BPF_JGE, X32_SYSCALL_BIT, 5, 0),
        /* 4 */ jump(libc::BPF_JEQ, libc::SYS_socket as u32, 0, 2),
        /* 5 */ load(DATA_ARG0),
        /* 6 */ jump(libc::BPF_JEQ, libc::AF_UNIX as u32, 1, 2),
        /* 7 */ jump(libc::BPF_JEQ, libc::SYS_io_uring_setup as u32, 1, 0),
        /* 8 */ allow,
        /* 9 */ deny,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_jump_of_the_network_filter_lands_inside_it() {
        let filter = network_filter();
        for (at, instruction) in filter.iter().enumerate() {
            if u32::from(instruction.code) & 0x07 == libc::BPF_JMP {
                for offset in [instruction.jt, instruction.jf] {
                    assert!(at + 1 + usize::from(offset) < filter.len(), "jump at {at}");
                }
            }
        }
        let last = filter.last().unwrap();
        assert_eq!(last.k, SECCOMP_RET_ERRNO | libc::EPERM as u32);
    }

    #[test]
    fn the_write_rights_grow_with_the_abi_and_files_get_file_rights_only() {
        assert_eq!(write_rights(1) & (REFER | TRUNCATE | IOCTL_DEV), 0);
        assert_eq!(write_rights(2) & REFER, REFER);
        assert_eq!(write_rights(5) & IOCTL_DEV, IOCTL_DEV);
        assert_eq!(file_write_rights(7), WRITE_FILE | TRUNCATE | IOCTL_DEV);
    }
}
