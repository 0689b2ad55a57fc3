//! CPU time of the benchmark process, for figures that mean something on a shared machine.

/// CPU seconds this process has used (user + system, all threads), from /proc/self/stat: on a
/// shared machine wall time says little, CPU time says what the work cost.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}
