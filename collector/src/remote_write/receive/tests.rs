use axum::body::to_bytes;
use axum::http::Request;
use prometheus_client::encoding::text::encode;
use prost::Message as _;
use tower::ServiceExt as _;

use super::*;
use crate::labels::{MatchOp, Matcher};
use crate::remote_write::MAX_DECOMPRESSED_BYTES;
use crate::remote_write::proto::{TimeSeries, WriteRequest};
use crate::tsdb::{MemoryStorage, Querier};

fn snappy(bytes: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(bytes).unwrap()
}

/// A push of `up{job}` at a time within the last minute.
fn push(job: &str) -> Vec<u8> {
    let t = now_ms() - 1000;
    let request = WriteRequest {
        timeseries: vec![TimeSeries::new(
            &[("__name__", "up"), ("job", job)],
            &[(t, 1.0)],
        )],
        metadata: Vec::new(),
    };
    snappy(&request.encode_to_vec())
}

/// A receiver over a fresh store, sent `body` with remote write's headers: the status, the
/// reason, the store and the receiver's metrics as exposed.
async fn send(
    body: Vec<u8>,
    content_type: &str,
) -> (StatusCode, String, Arc<MemoryStorage>, String) {
    let store = Arc::new(MemoryStorage::new());
    let receiver = Arc::new(Receiver::new(store.clone()));
    let request = Request::post("/api/v1/write")
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_ENCODING, "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(Body::from(body))
        .unwrap();
    let response = router(receiver.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let reason = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let mut registry = Registry::default();
    receiver.register_metrics(&mut registry);
    let mut metrics = String::new();
    encode(&mut metrics, &registry).unwrap();
    (
        status,
        String::from_utf8(reason.to_vec()).unwrap(),
        store,
        metrics,
    )
}

fn series_count(store: &MemoryStorage) -> usize {
    let any = Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap();
    store.select(&[any], 0, i64::MAX).unwrap().len()
}

#[tokio::test]
async fn a_push_is_stored_and_answered_204_with_an_empty_body() {
    let (status, reason, store, metrics) = send(push("a"), "application/x-protobuf").await;
    assert_eq!((status, reason.as_str()), (StatusCode::NO_CONTENT, ""));
    assert_eq!(series_count(&store), 1);
    assert!(
        metrics.contains("osprey_collector_remote_write_requests_total{code=\"204\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("osprey_collector_remote_write_received_samples_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn refused_pushes_get_the_status_and_reason_prometheus_gives_and_store_nothing() {
    let v2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request";
    // A snappy header (the decompressed length as a varint) one byte past the limit.
    let mut huge_header = Vec::new();
    prost::encoding::encode_varint(MAX_DECOMPRESSED_BYTES as u64 + 1, &mut huge_header);
    let decompressed_size = format!("decompresses to {} bytes", MAX_DECOMPRESSED_BYTES + 1);
    let cases: [(Vec<u8>, &str, StatusCode, &str); 5] = [
        (
            b"up{job=\"a\"} 1\n".to_vec(),
            "application/x-protobuf",
            StatusCode::BAD_REQUEST,
            "not snappy",
        ),
        (
            snappy(b"up{job=\"a\"} 1\n"),
            "application/x-protobuf",
            StatusCode::BAD_REQUEST,
            "not a remote-write protobuf message",
        ),
        (
            huge_header,
            "application/x-protobuf",
            StatusCode::PAYLOAD_TOO_LARGE,
            &decompressed_size,
        ),
        (
            vec![0; MAX_COMPRESSED_BYTES + 1],
            "application/x-protobuf",
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than",
        ),
        (
            push("a"),
            v2,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not accepted",
        ),
    ];
    for (body, content_type, expected, reason_part) in cases {
        let (status, reason, store, metrics) = send(body, content_type).await;
        assert_eq!(status, expected, "{reason}");
        assert!(reason.contains(reason_part), "{reason}");
        assert!(reason.ends_with('\n'), "{reason:?}");
        assert_eq!(series_count(&store), 0, "{reason}");
        let counted = format!(
            "osprey_collector_remote_write_requests_total{{code=\"{}\"}} 1",
            expected.as_u16()
        );
        assert!(metrics.contains(&counted), "{metrics}");
        assert!(
            metrics.contains("osprey_collector_remote_write_received_samples_total 0"),
            "{metrics}"
        );
    }
}
