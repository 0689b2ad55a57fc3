//! The differential query set: dashboard and alert-rule style queries plus a sweep over the
//! functions, aggregations and operators Prometheus 2 and 3 agree on.

/// Queries as Grafana dashboards and alert rules for node metrics write them.
const DASHBOARD: &[&str] = &[
    r#"sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))"#,
    r#"100 - (avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) * 100)"#,
    r#"avg by (instance, mode) (irate(node_cpu_seconds_total[1m])) * 100"#,
    r#"(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) * 100"#,
    r#"node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes"#,
    r#"rate(node_network_receive_bytes_total{device!="lo"}[5m]) * 8"#,
    r#"sum by (instance) (rate(node_network_receive_bytes_total{device=~"eth.*"}[2m]))"#,
    r#"100 - node_filesystem_avail_bytes{fstype!="tmpfs"} / node_filesystem_size_bytes * 100"#,
    r#"node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.6"#,
    r#"predict_linear(node_filesystem_avail_bytes{mountpoint="/"}[1h], 4 * 3600) < 4.9e10"#,
    r#"up == 0"#,
    r#"up{job="node"} == bool 0"#,
    r#"count(up == 1)"#,
    r#"sum(up) by (job)"#,
    r#"absent(up{job="node"})"#,
    r#"absent(up{job="missing"})"#,
    r#"node_load1 > 2"#,
    r#"node_load1 / on (instance) group_left count by (instance) (node_cpu_seconds_total{mode="idle"})"#,
    r#"histogram_quantile(0.9, sum by (le, instance) (rate(http_request_duration_seconds_bucket[5m])))"#,
    r#"histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket[10m])))"#,
    r#"histogram_quantile(0.99, rate(http_request_duration_seconds_bucket[5m]))"#,
    r#"rate(http_request_duration_seconds_sum[5m]) / on (instance, job) rate(http_request_duration_seconds_bucket{le="+Inf"}[5m])"#,
    r#"topk(3, sum by (instance) (rate(node_network_receive_bytes_total[5m])))"#,
    r#"bottomk(2, node_load1)"#,
    r#"node_uname_info"#,
    r#"count by (release) (node_uname_info)"#,
    r#"label_replace(node_load1, "host", "$1", "instance", "(.*):.*")"#,
    r#"label_join(node_uname_info, "both", "/", "nodename", "release")"#,
    r#"max_over_time(node_load1[10m]) - min_over_time(node_load1[10m])"#,
    r#"increase(node_cpu_seconds_total{mode="user"}[15m])"#,
    r#"resets(node_cpu_seconds_total[30m])"#,
    r#"changes(up[30m])"#,
    r#"max_over_time(rate(node_cpu_seconds_total{mode="user"}[1m])[10m:1m])"#,
    r#"avg_over_time(sum by (instance) (rate(node_cpu_seconds_total[2m]))[15m:30s])"#,
    r#"rate(node_cpu_seconds_total{mode="user"}[5m] offset 10m)"#,
    r#"node_load1 offset 30m"#,
    r#"node_load1 - node_load1 offset 1h"#,
    r#"sum by (instance) (node_load1) and on (instance) up == 1"#,
    r#"node_load1 unless on (instance) (up == 0)"#,
    r#"node_load1 or on (instance) vector(0)"#,
    r#"time() - node_load1"#,
    r#"timestamp(node_load1)"#,
    r#"scalar(sum(up))"#,
    r#"sum(node_load1) / scalar(count(up))"#,
    r#"quantile(0.5, node_load1)"#,
    r#"quantile by (job) (0.9, rate(node_cpu_seconds_total[5m]))"#,
    r#"count_values("value", up)"#,
    r#"stddev(node_load1)"#,
    r#"stdvar by (job) (node_load1)"#,
    r#"group by (job) (up)"#,
    r#"sort(node_load1)"#,
    r#"sort_desc(sum by (instance) (rate(node_cpu_seconds_total[5m])))"#,
    r#"hour(timestamp(up))"#,
    r#"day_of_week()"#,
    r#"minute()"#,
    r#"year(node_load1 * 0 + 1.7e9)"#,
    r#"clamp(node_load1, 1, 2)"#,
    r#"clamp_min(node_load1, 1.5)"#,
    r#"clamp_max(node_load1, 1.5)"#,
    r#"round(node_load1, 0.1)"#,
    r#"-node_load1"#,
    r#"node_load1 ^ 2 % 3"#,
    r#"1 + 2 * 3"#,
    r#"vector(1)"#,
    r#"absent_over_time(up{job="missing"}[5m])"#,
    r#"present_over_time(up[5m])"#,
    r#"last_over_time(node_load1[10m])"#,
    r#"node_load1 @ 1700003000"#,
    r#"rate(node_cpu_seconds_total{mode="idle"}[5m] @ 1700005010)"#,
    r#"deriv(node_load1[10m])"#,
    r#"quantile_over_time(0.9, node_load1[15m])"#,
];

const COUNTERS: &[&str] = &[
    r#"node_cpu_seconds_total{mode="user"}"#,
    r#"node_network_receive_bytes_total"#,
    r#"http_request_duration_seconds_bucket{le="0.5"}"#,
];
const GAUGES: &[&str] = &[
    "node_load1",
    "node_memory_MemAvailable_bytes",
    r#"node_filesystem_avail_bytes{mountpoint="/"}"#,
];
const RANGES: &[&str] = &["1m", "5m", "30m"];
const COUNTER_FUNCTIONS: &[&str] = &["rate", "irate", "increase", "resets"];
const GAUGE_FUNCTIONS: &[&str] = &[
    "delta",
    "idelta",
    "deriv",
    "changes",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "last_over_time",
];
const AGGREGATIONS: &[&str] = &[
    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "group",
];
const GROUPINGS: &[&str] = &["", " by (instance)", " without (cpu)", " by (job, mode)"];
const MATH: &[&str] = &[
    "abs", "ceil", "floor", "exp", "sqrt", "ln", "log2", "log10", "sgn", "sin", "cos", "tan",
    "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "deg", "rad", "round",
];
const OPERATORS: &[&str] = &[
    "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=",
];

/// Every query of the differential test.
pub fn all() -> Vec<String> {
    let mut out: Vec<String> = DASHBOARD.iter().map(|q| q.to_string()).collect();
    for range in RANGES {
        for f in COUNTER_FUNCTIONS {
            for m in COUNTERS {
                out.push(format!("{f}({m}[{range}])"));
            }
        }
        for f in GAUGE_FUNCTIONS {
            for m in GAUGES {
                out.push(format!("{f}({m}[{range}])"));
            }
        }
    }
    for agg in AGGREGATIONS {
        for g in GROUPINGS {
            out.push(format!(
                r#"{agg}{g} (rate(node_cpu_seconds_total{{mode!="idle"}}[5m]))"#
            ));
        }
    }
    for f in MATH {
        out.push(format!("{f}(node_load1 / 4)"));
    }
    for op in OPERATORS {
        out.push(format!("node_load1 {op} 1.5"));
        out.push(format!("2 {op} node_load1"));
        out.push(format!(
            "node_memory_MemAvailable_bytes {op} on (instance) group_left node_load1"
        ));
    }
    for op in ["==", "!=", ">", "<"] {
        out.push(format!("node_load1 {op} bool 1.5"));
    }
    out
}
