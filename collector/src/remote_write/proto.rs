//! The protobuf messages of remote write 1.0 (`prometheus.WriteRequest` and what it holds), as
//! Prometheus's `prompb/remote.proto` and `prompb/types.proto` define them.
//!
//! Written by hand with prost's derive rather than generated from the `.proto` files, which
//! would need `protoc` at build time for five small messages. Only the fields Osprey reads are
//! declared: a field missing here (exemplars, native histograms, metadata's reserved numbers)
//! is skipped by the decoder, as protobuf skips unknown fields.

/// One push: series with their samples, and metric metadata.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series and their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// HELP, TYPE and UNIT of metric families (Prometheus sends them in requests of their own).
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// A series: its labels (the metric name as `__name__`) and samples in time order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The series' labels.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Float samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

impl TimeSeries {
    /// A series of label pairs (`__name__` among them) and `(milliseconds, value)` samples.
    pub fn new(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels
                .iter()
                .map(|&(name, value)| Label {
                    name: name.to_owned(),
                    value: value.to_owned(),
                })
                .collect(),
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
        }
    }
}

/// One label pair.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// The label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// One float sample.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value (staleness markers included).
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// HELP, TYPE and UNIT of one metric family.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    /// The family's type, a [`MetricType`] number.
    #[prost(enumeration = "MetricType", tag = "1")]
    pub r#type: i32,
    /// The family's name.
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// The HELP text.
    #[prost(string, tag = "4")]
    pub help: String,
    /// The UNIT, empty if none.
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// The metric types of [`MetricMetadata`], numbered as in `types.proto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    /// No type given.
    Unknown = 0,
    /// A counter.
    Counter = 1,
    /// A gauge.
    Gauge = 2,
    /// A classic histogram.
    Histogram = 3,
    /// A gauge histogram (OpenMetrics).
    GaugeHistogram = 4,
    /// A summary.
    Summary = 5,
    /// An info metric (OpenMetrics).
    Info = 6,
    /// A state set (OpenMetrics).
    StateSet = 7,
}
