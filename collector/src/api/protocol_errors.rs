//! Prometheus's error JSON for requests refused before they reach a handler.
//!
//! hyper answers a request line longer than 64 KiB (414), headers larger than its read buffer
//! (431) and an unparsable request (400) itself, with an empty body, and offers no hook to
//! shape that answer. [`JsonErrorListener`] wraps each connection so that such an answer, as
//! hyper writes it, gains a `{"status":"error",...}` body saying what to do instead.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A listener whose connections give hyper's own error answers a JSON body.
pub struct JsonErrorListener<L>(pub L);

impl<L: Listener> Listener for JsonErrorListener<L> {
    type Io = JsonErrorIo<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.0.accept().await;
        (
            JsonErrorIo {
                inner: io,
                rewritten: None,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// One connection: reads pass through; a bodiless 400, 414 or 431 written by hyper is
/// replaced by the same answer with a JSON body.
pub struct JsonErrorIo<T> {
    inner: T,
    /// The replacement being written: its bytes, how many are written, and the length of the
    /// buffer it stands for (reported to hyper once all of it is out).
    rewritten: Option<(Vec<u8>, usize, usize)>,
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrorIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrorIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.rewritten.is_none() {
            match with_json_body(buf) {
                Some(replacement) => this.rewritten = Some((replacement, 0, buf.len())),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        let Some((bytes, written, stands_for)) = this.rewritten.as_mut() else {
            unreachable!("set just above")
        };
        while *written < bytes.len() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        let stands_for = *stands_for;
        this.rewritten = None;
        Poll::Ready(Ok(stands_for))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// hyper's own error answers and what each tells the client.
const REFUSALS: [(&[u8], &str); 3] = [
    (
        b"HTTP/1.1 414 ",
        "request URI too long (at most 64 KiB): send the parameters in a POST body (application/x-www-form-urlencoded)",
    ),
    (
        b"HTTP/1.1 431 ",
        "request headers too large: send long parameters in a POST body and keep headers small",
    ),
    (b"HTTP/1.1 400 ", "malformed HTTP request"),
];

/// `head` with a JSON error body, when it is one of hyper's bodiless error answers.
fn with_json_body(head: &[u8]) -> Option<Vec<u8>> {
    const EMPTY: &[u8] = b"\r\ncontent-length: 0\r\n";
    let (_, message) = REFUSALS.iter().find(|(line, _)| head.starts_with(line))?;
    let end = find(head, b"\r\n\r\n")? + 4;
    if end != head.len() {
        return None;
    }
    let at = find(head, EMPTY)?;
    let body = format!(r#"{{"status":"error","errorType":"bad_data","error":"{message}"}}"#);
    let mut out = Vec::with_capacity(head.len() + body.len() + 48);
    out.extend_from_slice(&head[..at]);
    out.extend_from_slice(b"\r\ncontent-type: application/json\r\n");
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    out.extend_from_slice(&head[at + EMPTY.len()..]);
    out.extend_from_slice(body.as_bytes());
    Some(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPER_414: &[u8] =
        b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 09:19:58 GMT\r\n\r\n";

    #[test]
    fn a_bodiless_414_gains_a_json_body_of_the_declared_length() {
        let out = String::from_utf8(with_json_body(HYPER_414).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
        assert!(head.contains("\r\ncontent-type: application/json\r\n"));
        assert!(head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())));
        assert!(head.contains("\r\ndate: "));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["status"], "error");
        assert_eq!(json["errorType"], "bad_data");
        assert!(json["error"].as_str().unwrap().contains("POST"));
    }

    #[test]
    fn answers_with_a_body_or_other_statuses_pass_unchanged() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(with_json_body(ok).is_none());
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert!(with_json_body(with_body).is_none());
        let head_and_more = [HYPER_414, b"trailing"].concat();
        assert!(with_json_body(&head_and_more).is_none());
    }
}
