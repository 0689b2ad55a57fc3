//! Remote write 1.0, Prometheus's push protocol: receiving pushes at `POST /api/v1/write` into
//! the store, so that Prometheus in agent mode, Grafana Alloy or vmagent can send to Osprey.
//!
//! Float samples and metric metadata are stored; exemplars and native histograms are not
//! (their fields are skipped when decoding, and a series holding nothing else is ignored).

mod batch;
mod decode;
mod metrics;
pub mod proto;
mod receive;

pub use decode::{MAX_COMPRESSED_BYTES, MAX_DECOMPRESSED_BYTES};
pub use receive::{Receiver, router};
