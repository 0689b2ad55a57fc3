//! The kernel's clock discipline as adjtimex(2) reports it, as node_exporter's `timex` collector.

use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// adjtimex(2) gives frequencies in parts per million with a 16-bit fraction.
const PPM16_FRACTION: f64 = 1_000_000.0 * 65_536.0;

/// What one adjtimex(2) call with no changes returned.
struct ClockState {
    /// The call's return value: the clock state, `TIME_ERROR` when not synchronised.
    state: i32,
    timex: libc::timex,
}

impl ClockState {
    /// Reads the state (modes 0: nothing is changed).
    fn read() -> Result<ClockState, CollectError> {
        // SAFETY: an all-zero timex is a valid argument asking for no change; adjtimex only
        // writes into it.
        let mut timex: libc::timex = unsafe { std::mem::zeroed() };
        // SAFETY: the pointer is to a live, writable timex.
        let state = unsafe { libc::adjtimex(&mut timex) };
        if state < 0 {
            return Err(CollectError::Read {
                path: "adjtimex(2)".to_owned(),
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(ClockState { state, timex })
    }

    /// Each family node_exporter writes: name, help, type and value.
    fn families(&self) -> [(&'static str, &'static str, MetricType, f64); 17] {
        use MetricType::{Counter, Gauge};
        let t = &self.timex;
        // `offset` and `jitter` are in nanoseconds when STA_NANO is set, else microseconds.
        let divisor = if t.status & libc::STA_NANO != 0 {
            1e9
        } else {
            1e6
        };
        let synced = if self.state == libc::TIME_ERROR {
            0.0
        } else {
            1.0
        };
        #[rustfmt::skip]
        let families = [
            ("node_timex_estimated_error_seconds", "Estimated error in seconds.", Gauge, t.esterror as f64 / 1e6),
            ("node_timex_frequency_adjustment_ratio", "Local clock frequency adjustment.", Gauge, 1.0 + t.freq as f64 / PPM16_FRACTION),
            ("node_timex_loop_time_constant", "Phase-locked loop time constant.", Gauge, t.constant as f64),
            ("node_timex_maxerror_seconds", "Maximum error in seconds.", Gauge, t.maxerror as f64 / 1e6),
            ("node_timex_offset_seconds", "Time offset in between local system and reference clock.", Gauge, t.offset as f64 / divisor),
            ("node_timex_pps_calibration_total", "Pulse per second count of calibration intervals.", Counter, t.calcnt as f64),
            ("node_timex_pps_error_total", "Pulse per second count of calibration errors.", Counter, t.errcnt as f64),
            ("node_timex_pps_frequency_hertz", "Pulse per second frequency.", Gauge, t.ppsfreq as f64 / PPM16_FRACTION),
            ("node_timex_pps_jitter_seconds", "Pulse per second jitter.", Gauge, t.jitter as f64 / divisor),
            ("node_timex_pps_jitter_total", "Pulse per second count of jitter limit exceeded events.", Counter, t.jitcnt as f64),
            ("node_timex_pps_shift_seconds", "Pulse per second interval duration.", Gauge, t.shift as f64),
            ("node_timex_pps_stability_exceeded_total", "Pulse per second count of stability limit exceeded events.", Counter, t.stbcnt as f64),
            ("node_timex_pps_stability_hertz", "Pulse per second stability, average of recent frequency changes.", Gauge, t.stabil as f64 / PPM16_FRACTION),
            ("node_timex_status", "Value of the status array bits.", Gauge, t.status as f64),
            ("node_timex_sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no).", Gauge, synced),
            ("node_timex_tai_offset_seconds", "International Atomic Time (TAI) offset.", Gauge, t.tai as f64),
            ("node_timex_tick_seconds", "Seconds between clock ticks.", Gauge, t.tick as f64 / 1e6),
        ];
        families
    }
}

/// `node_timex_*`: offset, frequency, errors, status and the pulse-per-second counters.
pub(super) struct Timex;

impl Collector for Timex {
    fn name(&self) -> &'static str {
        "timex"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        for (name, help, kind, value) in ClockState::read()?.families() {
            out.family(name, help, kind).sample(&[], value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::scrape_one;
    use super::*;

    #[test]
    fn the_kernel_clock_state_is_read_with_node_exporter_units() {
        let state = ClockState::read().unwrap();
        let text = scrape_one(&Timex);
        assert_eq!(text.matches("# TYPE node_timex_").count(), 17, "{text}");
        // The tick is a few milliseconds (USER_HZ 100 gives 10000 us) on every Linux kernel.
        let tick = state.timex.tick as f64 / 1e6;
        assert!((0.000_1..0.1).contains(&tick), "{tick}");
        assert!(
            text.contains(&format!("\nnode_timex_tick_seconds {tick}\n")),
            "{text}"
        );
        let synced = if state.state == libc::TIME_ERROR {
            0
        } else {
            1
        };
        assert!(
            text.contains(&format!("\nnode_timex_sync_status {synced}\n")),
            "{text}"
        );
    }
}
