//! Feeds arbitrary text to the rule-file reader: it must return validated groups or messages,
//! never panic; a rejected file has at least one message, an accepted one only named rules.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use osprey_collector::rules::parse_rule_file;

fuzz_target!(|text: &str| {
    match parse_rule_file(Path::new("rules.yml"), text) {
        Ok(groups) => {
            for group in &groups {
                assert!(!group.name.is_empty());
                assert!(group.rules.iter().all(|rule| !rule.name.is_empty()));
            }
        }
        Err(errors) => assert!(!errors.messages.is_empty(), "rejected without a message"),
    }
});
