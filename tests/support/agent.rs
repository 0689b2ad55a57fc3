//! The built `osprey-agent` on a free loopback port, its standard error kept in a log file.

use std::path::PathBuf;
use std::process::Command;

use crate::net::free_port;
use crate::process::Running;

/// A running agent, killed when the test ends.
#[derive(Debug)]
pub struct Agent {
    _process: Running,
    /// Where it listens.
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// Starts the agent on a free loopback port with the extra `args` and waits until it accepts
/// connections (over TLS too, when `args` configure it).
pub fn start_agent(args: &[&str]) -> Agent {
    start_agent_via(&[], args)
}

/// Like [`start_agent`], with the agent run by a wrapper command (`setpriv ...`).
pub fn start_agent_via(wrapper: &[&str], args: &[&str]) -> Agent {
    let port = free_port();
    let dir = tempfile::tempdir().expect("create a directory for the agent's log");
    let log = dir.path().join("agent.log");
    let binary = crate::binary("osprey-agent");
    let mut command = match wrapper.split_first() {
        Some((program, wrapper_args)) => {
            let mut command = Command::new(program);
            command.args(wrapper_args).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    command
        .arg(format!("--listen=127.0.0.1:{port}"))
        .args(args)
        .env("OSPREY_LOG", "info");
    let process = Running::spawn_listening("osprey-agent", command, port, Some(&log));
    Agent {
        _process: process,
        port,
        log,
        _dir: dir,
    }
}

impl Agent {
    /// Everything it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
