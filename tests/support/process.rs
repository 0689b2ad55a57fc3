//! Child processes that end with the test, and waiting for things to happen.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when the test ends, pass or fail.
#[derive(Debug)]
pub struct Running {
    child: Child,
    /// What it is, for messages.
    pub name: String,
}

impl Running {
    /// Starts `command` with its output discarded, or with its standard error appended to
    /// `log` when given (so a test can read what it logged).
    pub fn spawn(name: &str, mut command: Command, log: Option<&Path>) -> Running {
        command.stdin(Stdio::null()).stdout(Stdio::null());
        match log {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
                command.stderr(file);
            }
            None => {
                command.stderr(Stdio::null());
            }
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Running {
            child,
            name: name.to_owned(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`TERM`, `HUP`, ...) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {signal} {} failed", self.name);
    }

    /// Sends SIGTERM and waits up to `timeout` for the process to exit, as a service manager
    /// stops it; panics if it does not.
    pub fn terminate(mut self, timeout: Duration) {
        self.signal("TERM");
        let name = self.name.clone();
        wait_until(&format!("{name} to exit after SIGTERM"), timeout, || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
    }

    /// Starts `command` like [`Running::spawn`] and waits up to 20 s until it accepts TCP
    /// connections on loopback `port`; panics, with what it logged to `log`, if it exits first.
    pub fn spawn_listening(name: &str, command: Command, port: u16, log: Option<&Path>) -> Running {
        let mut process = Running::spawn(name, command, log);
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        wait_until(
            &format!("{name} to listen on port {port}"),
            Duration::from_secs(20),
            || {
                if let Some(status) = process.exit_status() {
                    let logged = log.and_then(|l| std::fs::read_to_string(l).ok());
                    panic!(
                        "{name} exited with {status} before listening:\n{}",
                        logged.unwrap_or_default()
                    );
                }
                TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
            },
        );
        process
    }

    /// How the process ended, or `None` while it runs.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Panics if the process has exited.
    pub fn assert_alive(&mut self) {
        if let Some(status) = self.exit_status() {
            panic!("{} exited with {status}", self.name);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `done` every 100 ms; panics naming `what` if it is still false after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    wait_for(what, timeout, || done().then_some(()));
}

/// Polls `check` every 100 ms until it gives a value; panics naming `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
