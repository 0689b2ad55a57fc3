//! Feeds arbitrary bytes to the exposition parser in both formats: it must return entries or
//! an error, never panic, and every sample it returns must carry a metric name.

#![no_main]

use libfuzzer_sys::fuzz_target;
use osprey_collector::scrape::parse::{Entry, Format, Parser};

fuzz_target!(|data: &[u8]| {
    for format in [Format::Text, Format::OpenMetrics] {
        let mut parser = Parser::new(data, format);
        let mut entries = 0usize;
        while let Ok(Some(entry)) = parser.next() {
            if let Entry::Sample(sample) = entry {
                assert!(!sample.name.is_empty());
                assert!(sample.series.len() <= data.len());
            }
            entries += 1;
            assert!(entries <= data.len() + 1, "more entries than lines");
        }
    }
});
