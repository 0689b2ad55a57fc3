//! Child processes that end with the test, and waiting for things to happen.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
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

    /// Panics if the process has exited.
    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
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

/// Waits until something accepts TCP connections on loopback `port`.
pub fn wait_for_port(port: u16, timeout: Duration) {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    wait_until(&format!("a listener on port {port}"), timeout, || {
        TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
    });
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
