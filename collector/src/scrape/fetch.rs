//! Fetching a target's body: the request Prometheus sends, credentials read at every scrape,
//! and the body read within the size limit.

use futures_util::StreamExt as _;
use reqwest::header;

use super::parse::Format;
use super::target::Target;

/// What Prometheus 2 sends: OpenMetrics preferred, the text format accepted.
const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,\
     application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Bounds of the buffer a body is read into before its size is known: the smallest, and the
/// largest taken on a target's word (a Content-Length header) before any byte arrives.
const MIN_BODY_BUFFER: usize = 64 * 1024;
const MAX_BODY_BUFFER: usize = 64 * 1024 * 1024;

/// Credentials for a job's targets; files are read at every scrape so rotations apply.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// None.
    #[default]
    None,
    /// HTTP basic authentication.
    Basic {
        /// User.
        username: String,
        /// Inline password.
        password: Option<String>,
        /// Password file.
        password_file: Option<std::path::PathBuf>,
    },
    /// `Authorization: Bearer` from a literal.
    Bearer(String),
    /// `Authorization: Bearer` from a file.
    BearerFile(std::path::PathBuf),
}

/// Why a body could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request failed.
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    /// The target answered with an error status.
    #[error("server returned HTTP status {0}")]
    Status(reqwest::StatusCode),
    /// The body is larger than `body_size_limit`.
    #[error("body size limit exceeded: more than {0} bytes")]
    BodyTooLarge(u64),
    /// A credentials file could not be read.
    #[error("cannot read credentials from {path}: {error}")]
    Credentials {
        /// The file.
        path: String,
        /// Why it could not be read.
        error: std::io::Error,
    },
}

/// Fetches `target`'s body of at most `body_size_limit` bytes and says its format;
/// `expected_len` is the size to expect when the response does not say.
pub async fn fetch(
    client: &reqwest::Client,
    auth: &Auth,
    body_size_limit: Option<u64>,
    target: &Target,
    expected_len: usize,
) -> Result<(Vec<u8>, Format), FetchError> {
    let timeout = target.timeout.as_secs_f64();
    let mut request = client
        .get(&target.url)
        .header(header::ACCEPT, ACCEPT)
        .header("X-Prometheus-Scrape-Timeout-Seconds", format!("{timeout}"));
    request = match auth {
        Auth::None => request,
        Auth::Basic {
            username,
            password,
            password_file,
        } => {
            let password = match password_file {
                Some(path) => read_secret(path)?,
                None => password.clone().unwrap_or_default(),
            };
            request.basic_auth(username, Some(password))
        }
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::BearerFile(path) => request.bearer_auth(read_secret(path)?),
    };
    let response = request.send().await?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status()));
    }
    let format = Format::from_content_type(
        response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    let limit = body_size_limit.unwrap_or(u64::MAX);
    // Sized up front (from Content-Length, else the last body) so that a large body is not
    // copied again each time it outgrows its buffer.
    let expected = response
        .content_length()
        .map_or(expected_len, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let capacity = expected
        .min(usize::try_from(limit).unwrap_or(usize::MAX))
        .clamp(MIN_BODY_BUFFER, MAX_BODY_BUFFER);
    let mut body = Vec::with_capacity(capacity);
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(FetchError::BodyTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, format))
}

fn read_secret(path: &std::path::Path) -> Result<String, FetchError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|error| FetchError::Credentials {
            path: path.display().to_string(),
            error,
        })
}
