//! The alert history as a CSV file for spreadsheets: one row per record, newest first.

use axum::response::Response;

use crate::api::export::{csv_download, push_field};
use crate::labels::Labels;
use crate::notify::AlertRecord;
use crate::promql::format_float;
use crate::vocab::rfc3339;

/// The columns, in order.
const HEADER: &str = "id,alertname,instance,severity,state,started_at,resolved_at,resolved_by,\
                      acknowledged_by,acknowledged_at,acknowledged_until,comment,value,last_value,\
                      summary,labels";

/// `records` as a CSV download.
pub fn response(records: &[AlertRecord]) -> Response {
    csv_download(
        to_csv(records),
        "attachment; filename=\"osprey-alert-history.csv\"",
    )
}

/// Renders records as CSV (RFC 4180, CRLF line ends); times in RFC 3339 UTC, empty cells for
/// what a record does not have.
pub fn to_csv(records: &[AlertRecord]) -> String {
    let mut out = format!("{HEADER}\r\n");
    for record in records {
        let label = |name: &str| record.labels.get(name).cloned().unwrap_or_default();
        let time = |ms: Option<i64>| ms.map(rfc3339).unwrap_or_default();
        let ack = record.acknowledged.as_ref();
        let fields = [
            record.id.to_string(),
            label("alertname"),
            label("instance"),
            label("severity"),
            record.state().as_str().to_owned(),
            rfc3339(record.started_at),
            time(record.resolved_at),
            record.resolved_by.clone().unwrap_or_default(),
            ack.map(|a| a.by.clone()).unwrap_or_default(),
            time(ack.map(|a| a.at)),
            time(ack.and_then(|a| a.until)),
            ack.map(|a| a.comment.clone()).unwrap_or_default(),
            format_float(record.value),
            format_float(record.last_value),
            record
                .annotations
                .get("summary")
                .cloned()
                .unwrap_or_default(),
            Labels::from_pairs(&record.labels).to_string(),
        ];
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_field(&mut out, field);
        }
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::notify::Acknowledgement;

    #[test]
    fn one_row_per_record_with_quoted_fields() {
        let record = AlertRecord {
            id: 7,
            fingerprint: "00000000000000ff".into(),
            labels: BTreeMap::from([
                ("alertname".into(), "HostHighCpuUsage".into()),
                ("instance".into(), "web1:9717".into()),
                ("severity".into(), "warning".into()),
            ]),
            annotations: BTreeMap::from([("summary".into(), "CPU \"hot\", 91%".into())]),
            value: 91.5,
            last_value: 93.0,
            started_at: 1_700_000_000_000,
            resolved_at: None,
            resolved_by: None,
            condition_cleared_at: None,
            acknowledged: Some(Acknowledgement {
                by: "ana".into(),
                comment: "on it".into(),
                at: 1_700_000_060_000,
                until: None,
            }),
        };
        let csv = to_csv(&[record]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(
            lines[1],
            "7,HostHighCpuUsage,web1:9717,warning,acknowledged,2023-11-14T22:13:20Z,,,ana,\
             2023-11-14T22:14:20Z,,on it,91.5,93,\"CPU \"\"hot\"\", 91%\",\
             \"{alertname=\"\"HostHighCpuUsage\"\", instance=\"\"web1:9717\"\", severity=\"\"warning\"\"}\""
        );
        assert_eq!(lines[2], "", "the last row ends with CRLF");
    }
}
