//! A real SMTP server on loopback: Debian's python3-aiosmtpd storing every message in a
//! Maildir, and the messages read back with Python's own email parser.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::peer_present;
use crate::process::Running;

const PYTHON: &str = "/usr/bin/python3";

/// Prints the Maildir's messages as a JSON list of `{subject, from, to, text, html}`, oldest
/// first, with the MIME parts decoded.
const READ_MAILDIR: &str = r#"
import email, email.policy, json, mailbox, sys
out = []
for message in sorted(mailbox.Maildir(sys.argv[1], create=False), key=lambda m: m.get_date()):
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    out.append({
        "subject": str(parsed["subject"]),
        "from": str(parsed["from"]),
        "to": str(parsed["to"]),
        "text": text.get_content() if text else "",
        "html": html.get_content() if html else "",
    })
print(json.dumps(out))
"#;

/// Whether python3-aiosmtpd is installed; in CI its absence is a failure.
pub fn available() -> bool {
    peer_present(PYTHON, &["-c", "import aiosmtpd"])
}

/// aiosmtpd listening on a loopback port, stopped on drop; its Maildir outlives it, so a
/// server started again on the same directory adds to the same messages.
#[derive(Debug)]
pub struct SmtpServer {
    _process: Running,
    /// Where it listens.
    pub port: u16,
}

impl SmtpServer {
    /// Starts aiosmtpd on `127.0.0.1:port`, storing messages in the Maildir `maildir`.
    pub fn start(port: u16, maildir: &Path) -> SmtpServer {
        let mut command = Command::new(PYTHON);
        command
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir);
        let process = Running::spawn_listening("aiosmtpd", command, port, None);
        SmtpServer {
            _process: process,
            port,
        }
    }
}

/// A message as received.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The decoded Subject header.
    pub subject: String,
    /// From.
    pub from: String,
    /// To.
    pub to: String,
    /// The text/plain part.
    pub text: String,
    /// The text/html part.
    pub html: String,
}

/// The messages in `maildir`, oldest first (none when it does not exist yet).
pub fn mails(maildir: &Path) -> Vec<Mail> {
    if !maildir.join("new").is_dir() {
        return Vec::new();
    }
    let output = Command::new(PYTHON)
        .args(["-c", READ_MAILDIR])
        .arg(maildir)
        .output()
        .expect("run python3 to read the Maildir");
    assert!(
        output.status.success(),
        "reading {}: {}",
        maildir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let list: Vec<Value> = serde_json::from_slice(&output.stdout).expect("JSON from python3");
    let field = |mail: &Value, name: &str| mail[name].as_str().unwrap_or_default().to_owned();
    list.iter()
        .map(|m| Mail {
            subject: field(m, "subject"),
            from: field(m, "from"),
            to: field(m, "to"),
            text: field(m, "text"),
            html: field(m, "html"),
        })
        .collect()
}
