//! What this machine's kernel reports through paths the agent does not read its numbers from.

/// `MemTotal` from /proc/meminfo, in bytes.
pub fn mem_total_bytes() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("read /proc/meminfo");
    let kb: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .expect("MemTotal in /proc/meminfo");
    kb * 1024.0
}
