//! The parts of the hostile-input suite: requests with what they must get, a readiness probe,
//! scrape targets that behave and misbehave, and the collector's peak memory.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use osprey::net::{get, post_form, request};

/// What a hostile request must get.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// 200 and `"status":"success"`.
    Success,
    /// 400 and `errorType` `bad_data`.
    BadData,
    /// 422 and `errorType` `execution`.
    Execution,
    /// 422 `execution` (a limit) or 503 `timeout`, whichever the query reaches first.
    ExecutionOrTimeout,
    /// This status and a JSON error body.
    Status(u16),
}

impl Expect {
    /// Whether `status` with the JSON `body` is what was expected.
    fn accepts(self, status: u16, body: &serde_json::Value) -> bool {
        let error_type = body["errorType"].as_str().unwrap_or_default();
        let error = body["status"] == "error" && !body["error"].as_str().unwrap_or("").is_empty();
        match self {
            Expect::Success => status == 200 && body["status"] == "success",
            Expect::BadData => status == 400 && error && error_type == "bad_data",
            Expect::Execution => status == 422 && error && error_type == "execution",
            Expect::ExecutionOrTimeout => {
                error
                    && ((status == 422 && error_type == "execution")
                        || (status == 503 && error_type == "timeout"))
            }
            Expect::Status(code) => status == code && error,
        }
    }
}

/// One hostile request.
#[derive(Debug, Clone)]
pub struct HostileCase {
    name: String,
    path: String,
    /// The form sent as a POST body; `None` for a GET of `path` alone.
    form: Option<Vec<(String, String)>>,
    expect: Expect,
    /// A word the error message must contain.
    mentioning: Option<String>,
    /// How long the answer may take.
    within: Duration,
}

impl HostileCase {
    /// A POST of `form` (URL-encoded, as Grafana sends long queries) to `path`.
    pub fn post(name: &str, path: &str, form: Vec<(String, String)>, expect: Expect) -> Self {
        HostileCase {
            name: name.to_owned(),
            path: path.to_owned(),
            form: Some(form),
            expect,
            mentioning: None,
            within: Duration::from_secs(30),
        }
    }

    /// A GET of `path`.
    pub fn get(name: &str, path: &str, expect: Expect) -> Self {
        HostileCase {
            form: None,
            ..HostileCase::post(name, path, Vec::new(), expect)
        }
    }

    /// Also requires the error message to contain `word`.
    pub fn mentioning(mut self, word: &str) -> Self {
        self.mentioning = Some(word.to_owned());
        self
    }

    /// Sends the request to the collector on `port`; `Err` says what was wrong with the
    /// answer.
    pub fn run(&self, port: u16) -> Result<(), String> {
        let started = Instant::now();
        let answer = match &self.form {
            Some(form) => {
                let pairs: Vec<(&str, &str)> =
                    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                post_form(port, &self.path, &pairs, self.within)
            }
            None => request("GET", port, &self.path, ("text/plain", ""), self.within),
        };
        let took = started.elapsed();
        let Some((status, body)) = answer else {
            return Err(format!("{}: no answer within {:?}", self.name, self.within));
        };
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let shown = || body.chars().take(300).collect::<String>();
        if !self.expect.accepts(status, &json) {
            return Err(format!(
                "{}: expected {:?}, got {status} {}",
                self.name,
                self.expect,
                shown()
            ));
        }
        if let Some(word) = &self.mentioning
            && !json["error"].as_str().unwrap_or("").contains(word.as_str())
        {
            return Err(format!(
                "{}: the error does not name {word}: {}",
                self.name,
                shown()
            ));
        }
        eprintln!("{}: {status} in {took:?}", self.name);
        Ok(())
    }
}

/// Probes `/-/ready` every 100 ms in the background.
pub struct ReadyProbe {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<ProbeResults>,
}

/// What the readiness probes saw.
pub struct ProbeResults {
    /// How long each probe took.
    pub durations: Vec<Duration>,
    /// Answers other than 200, and probes with no answer.
    pub failed: Vec<String>,
}

/// The longest a readiness probe may take.
const READY_WITHIN: Duration = Duration::from_millis(100);

impl ReadyProbe {
    /// Starts probing the collector on `port`.
    pub fn start(port: u16) -> ReadyProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut results = ProbeResults {
                durations: Vec::new(),
                failed: Vec::new(),
            };
            while !stopping.load(Ordering::Relaxed) {
                let started = Instant::now();
                match get(port, "/-/ready") {
                    Some((200, _)) => {}
                    other => results.failed.push(format!("/-/ready answered {other:?}")),
                }
                results.durations.push(started.elapsed());
                std::thread::sleep(Duration::from_millis(100));
            }
            results
        });
        ReadyProbe { stop, thread }
    }

    /// Stops probing and returns what the probes saw.
    pub fn stop(self) -> ProbeResults {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the readiness probe")
    }
}

impl ProbeResults {
    /// The slowest probe.
    pub fn slowest(&self) -> Duration {
        self.durations.iter().copied().max().unwrap_or_default()
    }

    /// Failed probes and probes slower than 100 ms.
    pub fn problems(&self) -> Vec<String> {
        let slow = self
            .durations
            .iter()
            .filter(|d| **d >= READY_WITHIN)
            .map(|d| format!("/-/ready took {d:?}"));
        self.failed.iter().cloned().chain(slow).collect()
    }
}

/// Scrape targets on one loopback port, told apart by path: `/steady` (well-behaved, its
/// scrape times recorded), `/duplicates` (a series twice), `/future` (a timestamp of
/// i64::MAX), `/garbage` (not the text format) and `/flood` (more series than a target may
/// create).
pub struct TargetServer {
    /// The port they listen on.
    pub port: u16,
    steady_scrapes: Arc<Mutex<Vec<Instant>>>,
}

impl TargetServer {
    /// Serves the targets in the background, `steady_series` series on `/steady` and
    /// `flood_series` on `/flood`.
    pub fn start(steady_series: usize, flood_series: usize) -> TargetServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the targets");
        let port = listener.local_addr().unwrap().port();
        let steady_scrapes = Arc::new(Mutex::new(Vec::new()));
        let bodies = Arc::new(Bodies::new(steady_series, flood_series));
        let scrapes = steady_scrapes.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (bodies, scrapes) = (bodies.clone(), scrapes.clone());
                std::thread::spawn(move || serve(stream, &bodies, &scrapes));
            }
        });
        TargetServer {
            port,
            steady_scrapes,
        }
    }

    /// When `/steady` was scraped so far.
    pub fn steady_scrapes(&self) -> Vec<Instant> {
        self.steady_scrapes.lock().unwrap().clone()
    }
}

/// The bodies each target serves.
struct Bodies {
    steady: String,
    flood: String,
}

impl Bodies {
    fn new(steady_series: usize, flood_series: usize) -> Bodies {
        let mut steady = String::from("steady_up 1\n");
        for i in 0..steady_series {
            steady.push_str(&format!("steady_load{{i=\"{i}\"}} {i}\n"));
        }
        let mut flood = String::new();
        for i in 0..flood_series {
            flood.push_str(&format!("flood_series{{i=\"{i}\"}} 1\n"));
        }
        Bodies { steady, flood }
    }

    fn for_path(&self, path: &str) -> &str {
        match path {
            "/steady" => &self.steady,
            "/duplicates" => "dup_metric 1\ndup_metric 2\n",
            "/future" => "future_metric 1 9223372036854775807\n",
            "/garbage" => "\u{1}\u{2} this is { not the text format\n",
            "/flood" => &self.flood,
            _ => "",
        }
    }
}

/// Answers one scrape.
fn serve(stream: TcpStream, bodies: &Bodies, steady_scrapes: &Mutex<Vec<Instant>>) {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line.split(' ').nth(1).unwrap_or("");
    if path == "/steady" {
        steady_scrapes.lock().unwrap().push(Instant::now());
    }
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let body = bodies.for_path(path);
    let _ = write!(
        &stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The peak resident memory (`VmHWM`) of process `pid`, in bytes.
pub fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read its status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .expect("VmHWM in /proc/PID/status")
        * 1024
}
