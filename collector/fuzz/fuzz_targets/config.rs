//! Feeds arbitrary text to the collector's configuration reader: it must return a validated
//! configuration or errors, never panic, and every error must name the file it was given.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use osprey_collector::config::Config;

fuzz_target!(|text: &str| {
    let path = Path::new("/etc/osprey/collector.yml");
    if let Err(errors) = Config::parse(text, path) {
        assert!(!errors.0.is_empty(), "rejected without an error");
        assert!(errors.0.iter().all(|e| e.file == path));
    }
});
