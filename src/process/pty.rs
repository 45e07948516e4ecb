//! Pseudo-terminals for commands that run with `tty: true`.
//!
//! The master stays with the server (output is read from it, input written to it, the window
//! size set on it); the slave becomes the command's stdin, stdout and stderr and, through
//! [`super::SessionPolicy::NewSessionWithTerminal`], its controlling terminal.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::pty::{OpenptFlags, grantpt, ioctl_tiocgptpeer, openpt, unlockpt};
use rustix::termios::{Winsize, tcsetwinsize};

/// A window size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub rows: u16,
    pub cols: u16,
}

/// Both ends of a new pseudo-terminal, close-on-exec.
#[derive(Debug)]
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Opens a pseudo-terminal of `size`.
pub fn open(size: Size) -> io::Result<Pty> {
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let master = openpt(flags)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    // The slave from the master itself (no path lookup in /dev/pts).
    let slave = ioctl_tiocgptpeer(&master, flags)?;
    resize(&master, size)?;
    Ok(Pty { master, slave })
}

/// Sets the window size; the kernel sends `SIGWINCH` to the terminal's foreground group.
pub fn resize(master: impl AsFd, size: Size) -> io::Result<()> {
    tcsetwinsize(
        master,
        Winsize {
            ws_row: size.rows,
            ws_col: size.cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )?;
    Ok(())
}
