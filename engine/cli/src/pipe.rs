//! Output into a pipe whose reader has gone (`vmtriage bt --all DUMP |
//! head`): vmtriage ends as `cat` or `grep` do, killed by SIGPIPE without a
//! word (a shell shows status 141).
//!
//! Rust ignores SIGPIPE, so a write into such a pipe fails with EPIPE, and
//! `print!` turns that failure into a panic with a backtrace. SIGPIPE is
//! not restored for the whole process: `scan` writes requests into its
//! workers' pipes, where a worker that died must be an error row, not the
//! end of the scan. Instead the failed write to stdout or stderr, and only
//! it, is turned back into the signal: by a panic hook for `print!`, by
//! [`Quiet`] for a writer whose errors would otherwise be ignored.

use std::io::Write;

/// Whether the reader of an output descriptor has gone (`| head` read what
/// it wanted and closed the pipe): a pipe whose read end is closed polls
/// POLLERR at its write end, a socket POLLHUP; a file or a terminal neither.
pub fn reader_gone(fd: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    };
    // SAFETY: one pollfd, valid for the call; a zero timeout does not block.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n == 1 && p.revents & (libc::POLLERR | libc::POLLHUP) != 0
}

/// Installs the panic hook that turns std's panic on a failed `print!` /
/// `eprint!` into a pipe whose reader has gone into death by SIGPIPE.
pub fn end_quietly_when_the_reader_goes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        // std's message for a failed `print!` / `eprint!`.
        let gone = (msg.starts_with("failed printing to stdout") && reader_gone(1))
            || (msg.starts_with("failed printing to stderr") && reader_gone(2));
        if gone {
            die_of_sigpipe();
        }
        default(info)
    }));
}

/// Ends the process by SIGPIPE, as the kernel would have.
pub fn die_of_sigpipe() -> ! {
    // SAFETY: restoring a signal's default action, unblocking and raising it.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(128 + libc::SIGPIPE)
}

/// Standard output that ends the process by SIGPIPE once its reader has
/// gone (a write fails with EPIPE), for output whose write errors are
/// otherwise ignored: `scan` would go on scanning for nobody.
pub struct Quiet<W: Write>(pub W);

impl<W: Write> Quiet<W> {
    fn check<T>(r: std::io::Result<T>) -> std::io::Result<T> {
        match r {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe && reader_gone(1) => {
                die_of_sigpipe()
            }
            r => r,
        }
    }
}

impl<W: Write> Write for Quiet<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Self::check(self.0.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Self::check(self.0.flush())
    }
}
