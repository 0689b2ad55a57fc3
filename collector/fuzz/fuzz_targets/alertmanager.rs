//! Feeds arbitrary text to the Alertmanager configuration reader: it must return the
//! notification setup or an error, never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use osprey_collector::notify::parse_alertmanager_config;

fuzz_target!(|text: &str| {
    let _ = parse_alertmanager_config(text);
});
