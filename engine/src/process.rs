//! Child processes with a deadline, for rules that run programs (the help crawls of the
//! snapshot rules, the wrapper check): both pipes are drained while waiting (a child that
//! writes more than a pipe holds never blocks), the child's whole process group is killed at
//! the deadline or when the build is cancelled, and what is kept of its output is bounded.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes kept of each of stdout and stderr; the rest is read and dropped.
pub const MAX_CAPTURE: usize = 16 << 20;

/// How a child ended.
#[derive(Debug)]
pub enum Outcome {
    /// It exited (any status).
    Exited(Captured),
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

/// Runs `cmd` with a null stdin and piped stdout/stderr in a process group of its own, until
/// it exits, `timeout` passes, or `cancelled` is set. A spawn failure is the `Err`.
pub fn run(
    cmd: &mut Command,
    timeout: Option<Duration>,
    cancelled: Option<&AtomicBool>,
) -> std::io::Result<Outcome> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    let mut child = cmd.spawn()?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut pause = Duration::from_micros(50);
    let stop = loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                return Ok(Outcome::Exited(Captured {
                    status,
                    stdout: join(stdout),
                    stderr: join(stderr),
                }));
            }
            Ok(None) => {}
            Err(e) => {
                kill_group(&mut child);
                return Err(e);
            }
        }
        if cancelled.is_some_and(|c| c.load(Ordering::Relaxed)) {
            break Outcome::Cancelled;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break Outcome::TimedOut;
        }
        let left = deadline.map_or(pause, |d| d - now);
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(10));
    };
    kill_group(&mut child);
    // The readers end once every holder of the pipes is gone; the group was killed, so this
    // does not block.
    join(stdout);
    join(stderr);
    Ok(stop)
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Option<JoinHandle<Vec<u8>>> {
    pipe.map(|mut pipe| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 64 * 1024];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let room = MAX_CAPTURE.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            kept
        })
    })
}

fn join(handle: Option<JoinHandle<Vec<u8>>>) -> Vec<u8> {
    handle.and_then(|h| h.join().ok()).unwrap_or_default()
}

/// Kills the child's process group (unix), then the child, and reaps it.
fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    #[test]
    fn output_larger_than_a_pipe_does_not_block() {
        let out = run(
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
    fn a_grandchild_holding_the_pipe_is_killed_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > '{}'; wait", pid_file.display());
        let out = run(&mut sh(&script), Some(Duration::from_millis(300)), None);
        assert!(matches!(out, Ok(Outcome::TimedOut)), "{out:?}");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        // Killed means gone or a zombie (`State: Z`) waiting for init to reap it.
        let status = format!("/proc/{}/status", pid.trim());
        let running = || {
            std::fs::read_to_string(&status).is_ok_and(|s| {
                s.lines()
                    .any(|l| l.starts_with("State:") && !l.contains('Z'))
            })
        };
        for _ in 0..100 {
            if !running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the grandchild {pid} survived");
    }

    #[test]
    fn cancellation_stops_the_child() {
        let flag = AtomicBool::new(true);
        let out = run(&mut sh("sleep 30"), None, Some(&flag));
        assert!(matches!(out, Ok(Outcome::Cancelled)), "{out:?}");
    }
}
