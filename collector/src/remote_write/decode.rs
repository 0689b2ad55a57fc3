//! Reading a push's body: the content type and encoding checked as Prometheus checks them,
//! snappy block decompression and protobuf decoding, each size bounded before memory is
//! allocated for it.

use prost::Message as _;

use super::proto::WriteRequest;

/// The largest body accepted as sent (compressed): 8 MiB. Prometheus, Grafana Alloy and
/// vmagent send batches far below it (Prometheus's 2,000 samples are some 30 KiB).
pub const MAX_COMPRESSED_BYTES: usize = 8 << 20;

/// The largest body accepted once decompressed: 32 MiB, room for about 400,000 samples of
/// typical series in one push. The snappy header states the size, so a larger body is refused
/// before anything is decompressed.
pub const MAX_DECOMPRESSED_BYTES: usize = 32 << 20;

/// The media type of remote write.
const PROTOBUF: &str = "application/x-protobuf";

/// The message remote write 1.0 sends, as the `proto` parameter of the content type names it.
const WRITE_REQUEST_V1: &str = "prometheus.WriteRequest";

/// Why a body was not decoded; nothing of it was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// `Content-Encoding` names something other than snappy (415).
    #[error("{0} encoding (compression) is not accepted by this server; only snappy is acceptable")]
    Encoding(String),
    /// `Content-Type` is not remote write 1.0's (415).
    #[error(
        "content type {0:?} is not accepted by this server; accepted: application/x-protobuf \
         with the prometheus.WriteRequest message (remote write 1.0)"
    )]
    ContentType(String),
    /// The body as sent is larger than [`MAX_COMPRESSED_BYTES`] (413).
    #[error("request body is larger than the {MAX_COMPRESSED_BYTES}-byte limit")]
    TooLarge,
    /// The body decompresses to more than [`MAX_DECOMPRESSED_BYTES`] (413).
    #[error(
        "request body decompresses to {0} bytes, more than the {MAX_DECOMPRESSED_BYTES}-byte \
         limit"
    )]
    DecompressedTooLarge(usize),
    /// The body is not snappy block-compressed data (400).
    #[error("request body is not snappy block-compressed: {0}")]
    Snappy(#[from] snap::Error),
    /// The decompressed body is not a `prometheus.WriteRequest` (400).
    #[error("request body is not a remote-write protobuf message (prometheus.WriteRequest): {0}")]
    Protobuf(#[from] prost::DecodeError),
}

/// Checks the `Content-Type` and `Content-Encoding` of a push. Either may be absent (remote
/// write 1.0 senders before the specification did not always set them): Prometheus then
/// assumes the protobuf message and snappy, and so does Osprey.
pub fn check_headers(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<(), DecodeError> {
    if let Some(encoding) = content_encoding
        && !encoding.trim().eq_ignore_ascii_case("snappy")
    {
        return Err(DecodeError::Encoding(encoding.to_owned()));
    }
    let Some(content_type) = content_type else {
        return Ok(());
    };
    let refused = || DecodeError::ContentType(content_type.to_owned());
    let mut parts = content_type.split(';').map(str::trim);
    if !parts
        .next()
        .is_some_and(|media| media.eq_ignore_ascii_case(PROTOBUF))
    {
        return Err(refused());
    }
    for parameter in parts {
        match parameter.split_once('=') {
            Some((name, message)) if name.trim() == "proto" => {
                if message.trim() != WRITE_REQUEST_V1 {
                    return Err(refused());
                }
            }
            Some(_) => {}
            None => return Err(refused()),
        }
    }
    Ok(())
}

/// Decompresses and decodes a body already read whole (and so no longer than
/// [`MAX_COMPRESSED_BYTES`]).
pub fn decode(body: &[u8]) -> Result<WriteRequest, DecodeError> {
    let size = snap::raw::decompress_len(body)?;
    if size > MAX_DECOMPRESSED_BYTES {
        return Err(DecodeError::DecompressedTooLarge(size));
    }
    let decompressed = snap::raw::Decoder::new().decompress_vec(body)?;
    Ok(WriteRequest::decode(decompressed.as_slice())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::proto::TimeSeries;

    fn compressed(message: &[u8]) -> Vec<u8> {
        snap::raw::Encoder::new().compress_vec(message).unwrap()
    }

    #[test]
    fn a_snappy_protobuf_body_decodes() {
        let request = WriteRequest {
            timeseries: vec![TimeSeries::new(&[("__name__", "up")], &[(5, 1.0)])],
            metadata: Vec::new(),
        };
        let body = compressed(&request.encode_to_vec());
        assert_eq!(decode(&body).unwrap(), request);
    }

    #[test]
    fn bodies_that_are_not_snappy_or_not_protobuf_are_refused() {
        for body in [&b""[..], b"\xff\xff\xff\xff\xff\xff", b"\x10\x00"] {
            assert!(
                matches!(decode(body), Err(DecodeError::Snappy(_))),
                "{body:?}"
            );
        }
        // Field 1 as a length-delimited record running past the end of the message.
        let error = decode(&compressed(b"\x0a\x10\x01")).unwrap_err();
        assert!(matches!(error, DecodeError::Protobuf(_)), "{error}");
    }

    #[test]
    fn a_body_claiming_a_huge_decompressed_size_is_refused_before_decompressing() {
        // The snappy header: a varint of 64 MiB, then nothing.
        let error = decode(&[0x80, 0x80, 0x80, 0x20]).unwrap_err();
        assert!(
            matches!(error, DecodeError::DecompressedTooLarge(size) if size == 64 << 20),
            "{error}"
        );
    }

    #[test]
    fn headers_are_checked_as_prometheus_checks_them() {
        for (content_type, encoding) in [
            (None, None),
            (Some("application/x-protobuf"), Some("snappy")),
            (
                Some("application/x-protobuf;proto=prometheus.WriteRequest"),
                Some("SNAPPY"),
            ),
            (Some("application/x-protobuf; charset=utf-8"), None),
        ] {
            assert!(
                check_headers(content_type, encoding).is_ok(),
                "{content_type:?} {encoding:?}"
            );
        }
        let v2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request";
        for (content_type, encoding) in [
            (Some(v2), Some("snappy")),
            (Some("application/json"), None),
            (Some("application/x-protobuf;proto"), None),
        ] {
            assert!(
                matches!(
                    check_headers(content_type, encoding),
                    Err(DecodeError::ContentType(_))
                ),
                "{content_type:?}"
            );
        }
        assert!(matches!(
            check_headers(None, Some("gzip")),
            Err(DecodeError::Encoding(e)) if e == "gzip"
        ));
    }
}
