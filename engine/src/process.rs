//! The one way parity runs a child process: `command` recipes ([`crate::sandbox`]) and the
//! programs that rules run (the help crawls of the snapshot rules, the wrapper check).
//!
//! - The child runs in a process group of its own; at its deadline, when the build is
//!   cancelled, and also when it exits (whatever it left running goes with it), the whole group
//!   is killed. Running groups are registered, so a second Ctrl-C can end them all
//!   ([`kill_running`]).
//! - The wait blocks on a pidfd (Linux 5.3+): the exit is seen at once, an interruption within
//!   50 ms; elsewhere it polls.
//! - Output goes to files, never to memory nor through pipes (no reader threads, and a
//!   grandchild that keeps a pipe open cannot hold the wait): [`capture`] keeps a bounded
//!   head of each stream, the sandbox a bounded tail of its log.

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Bytes [`capture`] keeps of each of stdout and stderr; the rest is dropped.
pub const MAX_CAPTURE: usize = 16 << 20;

/// How often a wait looks at its cancellation flag.
const CANCEL_PERIOD: Duration = Duration::from_millis(50);

/// How a child ended.
#[derive(Debug)]
pub enum Outcome<T = ExitStatus> {
    /// It exited (any status).
    Exited(T),
    /// It was still running at the deadline: killed with its process group.
    TimedOut,
    /// The build was cancelled while it ran: killed with its process group.
    Cancelled,
}

/// A child that exited, and what it printed (each stream cut at [`MAX_CAPTURE`] bytes).
#[derive(Debug)]
pub struct Captured {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
}

impl Captured {
    /// The exit code, `-1` when it was killed by a signal.
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
}

/// Process groups of the children running now.
static RUNNING: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Kills the process group of every child still running (a second Ctrl-C, before exiting).
pub fn kill_running() {
    if let Ok(running) = RUNNING.lock() {
        for &pgid in running.iter() {
            kill_group(pgid);
        }
    }
}

fn kill_group(pgid: u32) {
    #[cfg(unix)]
    if let Some(pid) = rustix::process::Pid::from_raw(pgid as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    #[cfg(not(unix))]
    let _ = pgid;
}

/// A child started by [`spawn`]. Dropping it without [`Running::wait`] kills its group.
#[derive(Debug)]
pub struct Running {
    child: Child,
    reaped: bool,
}

/// Starts `cmd` (its stdio as the caller set it) in a process group of its own.
pub fn spawn(cmd: &mut Command) -> std::io::Result<Running> {
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    let child = cmd.spawn()?;
    if let Ok(mut r) = RUNNING.lock() {
        r.insert(child.id());
    }
    Ok(Running {
        child,
        reaped: false,
    })
}

impl Running {
    /// Waits until the child exits, `timeout` passes or `cancel` is set; then kills its whole
    /// process group (in the two last cases, the child with it) and reaps it.
    pub fn wait(
        mut self,
        timeout: Option<Duration>,
        cancel: Option<&AtomicBool>,
    ) -> std::io::Result<Outcome> {
        let result = self.wait_inner(timeout, cancel);
        self.finish();
        result
    }

    fn wait_inner(
        &mut self,
        timeout: Option<Duration>,
        cancel: Option<&AtomicBool>,
    ) -> std::io::Result<Outcome> {
        let deadline = timeout.map(|t| Instant::now() + t);
        #[cfg(target_os = "linux")]
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_child(&self.child),
            rustix::process::PidfdFlags::empty(),
        )
        .ok();
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.reaped = true;
                return Ok(Outcome::Exited(status));
            }
            if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Ok(Outcome::Cancelled);
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(Outcome::TimedOut);
            }
            let mut slice = deadline.map_or(Duration::MAX, |d| d - now);
            if cancel.is_some() {
                slice = slice.min(CANCEL_PERIOD);
            }
            #[cfg(target_os = "linux")]
            if let Some(fd) = &pidfd {
                use rustix::event::{PollFd, PollFlags, Timespec, poll};
                let mut fds = [PollFd::new(fd, PollFlags::IN)];
                // A wait with neither deadline nor cancellation blocks until the exit.
                let ts = Timespec::try_from(slice).ok();
                match poll(&mut fds, ts.as_ref()) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            std::thread::sleep(slice.min(Duration::from_millis(2)));
        }
    }

    /// Kills the group (what the child left running, or the child itself) and reaps the child.
    fn finish(&mut self) {
        let pgid = self.child.id();
        kill_group(pgid);
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.reaped = true;
        }
        if let Ok(mut r) = RUNNING.lock() {
            r.remove(&pgid);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.reaped {
            self.finish();
        }
    }
}

/// Runs `cmd` with a null stdin, stdout and stderr to unnamed temporary files, until it exits,
/// `timeout` passes, or `cancelled` is set; returns what it printed (the first
/// [`MAX_CAPTURE`] bytes of each stream). A spawn failure is the `Err`.
pub fn capture(
    cmd: &mut Command,
    timeout: Option<Duration>,
    cancelled: Option<&AtomicBool>,
) -> std::io::Result<Outcome<Captured>> {
    let mut out = tempfile::tempfile()?;
    let mut err = tempfile::tempfile()?;
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(err.try_clone()?);
    let ended = spawn(cmd)?.wait(timeout, cancelled);
    // The command keeps the parent's copies of the files open: let them go.
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    Ok(match ended? {
        Outcome::Exited(status) => Outcome::Exited(Captured {
            status,
            stdout: head(&mut out)?,
            stderr: head(&mut err)?,
        }),
        Outcome::TimedOut => Outcome::TimedOut,
        Outcome::Cancelled => Outcome::Cancelled,
    })
}

/// The first [`MAX_CAPTURE`] bytes of `file`.
fn head(file: &mut std::fs::File) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(0))?;
    let mut kept = Vec::new();
    file.take(MAX_CAPTURE as u64).read_to_end(&mut kept)?;
    Ok(kept)
}

/// The last lines of a log `file`: at most `lines` lines of its last `bytes` bytes, `...`
/// first when that cut a line.
pub fn tail(file: &mut std::fs::File, bytes: u64, lines: usize) -> String {
    let len = file.metadata().map_or(0, |m| m.len());
    let mut buf = Vec::new();
    if file
        .seek(SeekFrom::Start(len.saturating_sub(bytes)))
        .is_ok()
    {
        let _ = file.take(bytes).read_to_end(&mut buf);
    }
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    let mut tail = all[all.len().saturating_sub(lines)..].join("\n");
    if len > bytes && all.len() <= lines {
        tail.insert_str(0, "...");
    }
    tail
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    fn running(pid: &str) -> bool {
        // Killed means gone or a zombie (`State: Z`) waiting for init to reap it.
        std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("State:") && !l.contains('Z'))
        })
    }

    fn assert_gone(pid: &str) {
        for _ in 0..100 {
            if !running(pid) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the grandchild {pid} survived");
    }

    #[test]
    fn output_larger_than_a_pipe_does_not_block() {
        let out = capture(
            &mut sh("head -c 300000 /dev/zero; echo err >&2"),
            None,
            None,
        )
        .unwrap();
        let Outcome::Exited(c) = out else {
            panic!("{out:?}")
        };
        assert_eq!(
            (c.stdout.len(), c.stderr.as_slice()),
            (300000, &b"err\n"[..])
        );
    }

    #[test]
    fn capture_keeps_a_bounded_head() {
        let script = format!("head -c {} /dev/zero", MAX_CAPTURE + 4096);
        let Outcome::Exited(c) = capture(&mut sh(&script), None, None).unwrap() else {
            panic!("not exited")
        };
        assert_eq!(c.stdout.len(), MAX_CAPTURE);
    }

    #[test]
    fn a_grandchild_holding_the_pipe_is_killed_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > '{}'; wait", pid_file.display());
        let out = capture(&mut sh(&script), Some(Duration::from_millis(300)), None);
        assert!(matches!(out, Ok(Outcome::TimedOut)), "{out:?}");
        assert_gone(&std::fs::read_to_string(&pid_file).unwrap());
    }

    #[test]
    fn a_grandchild_left_running_after_the_exit_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > '{}'; echo done", pid_file.display());
        let out = capture(&mut sh(&script), Some(Duration::from_secs(20)), None).unwrap();
        let Outcome::Exited(c) = out else {
            panic!("{out:?}")
        };
        assert_eq!(c.stdout, b"done\n");
        assert_gone(&std::fs::read_to_string(&pid_file).unwrap());
    }

    #[test]
    fn cancellation_stops_the_child() {
        let flag = AtomicBool::new(true);
        let out = capture(&mut sh("sleep 30"), None, Some(&flag));
        assert!(matches!(out, Ok(Outcome::Cancelled)), "{out:?}");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, b"1\n2\n3\n4\n").unwrap();
        assert_eq!(tail(&mut f, 1024, 2), "3\n4");
        assert_eq!(tail(&mut f, 4, 20), "...3\n4");
    }
}
