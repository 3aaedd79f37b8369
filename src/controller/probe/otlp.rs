//! The probe's telemetry: one span, one log record and one gauge point, each
//! an OTLP export request (the collector's OTLP/HTTP receiver takes them as
//! `application/x-protobuf` on `/v1/traces`, `/v1/logs`, `/v1/metrics`:
//! opentelemetry-collector receiver/otlpreceiver/otlphttp.go at v0.159.0).
//!
//! Everything carries the resource attribute `service.name` = `sextant-probe`
//! and the attribute `probe.id` (the trace id in hex, unique per probe); the
//! log record also carries the span's trace and span id, which is the link
//! the probe checks.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use prost::Message;

/// `service.name` of everything the probe sends; the built-in dashboards leave
/// it out.
pub const SERVICE_NAME: &str = "sextant-probe";
/// The attribute holding the probe's id.
pub const ID_ATTRIBUTE: &str = "probe.id";
/// The gauge the probe writes; its value is the time it was sent, in seconds.
pub const METRIC: &str = "sextant.probe.heartbeat";
/// The span's name.
pub const SPAN_NAME: &str = "sextant probe";
/// `sampling.priority` on the span: contrib's probabilistic_sampler keeps a
/// span whose priority attribute is a number above 0 whatever the configured
/// ratio and mode (processor/probabilisticsamplerprocessor/tracesprocessor.go,
/// `parseSpanSamplingPriority`, applied after the sampler's decision in
/// sampler_mode.go `commonShouldSampleLogic`; read in opentelemetry-collector-contrib
/// at commit f4ceaf61, not verified at v0.159.0, whose snapshot is too large
/// to fetch here), so a stack sampling 10% of its traces still finds the probe's.
pub const SAMPLING_PRIORITY: &str = "sampling.priority";

/// One probe's identity and clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// 16 random bytes: the span's trace id.
    pub trace_id: [u8; 16],
    /// 8 random bytes: the span's id.
    pub span_id: [u8; 8],
    /// When it was sent, nanoseconds since the Unix epoch.
    pub unix_nanos: u64,
    /// `namespace/name` of the stack, as the attribute `sextant.stack`.
    pub stack: String,
}

impl Probe {
    /// A new probe with random ids, sent now.
    pub fn new(stack: String) -> Self {
        let unix_nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or_default();
        let mut trace_id: [u8; 16] = rand::random();
        // An all-zero id is invalid in OTLP; random ids are this with a
        // probability of 2^-128, made impossible here.
        trace_id[0] |= 1;
        let mut span_id: [u8; 8] = rand::random();
        span_id[0] |= 1;
        Self {
            trace_id,
            span_id,
            unix_nanos,
            stack,
        }
    }

    /// The id: the trace id in lower-case hex (as Tempo's API and Loki's
    /// `trace_id` structured metadata spell it).
    pub fn id(&self) -> String {
        hex::encode(self.trace_id)
    }

    fn resource(&self) -> Option<Resource> {
        Some(Resource {
            attributes: vec![
                kv("service.name", SERVICE_NAME),
                kv("sextant.stack", &self.stack),
            ],
            ..Resource::default()
        })
    }

    fn scope() -> Option<InstrumentationScope> {
        Some(InstrumentationScope {
            name: "sextant".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            ..InstrumentationScope::default()
        })
    }

    /// The span, as an OTLP protobuf body.
    pub fn traces(&self) -> Vec<u8> {
        let span = Span {
            trace_id: self.trace_id.to_vec(),
            span_id: self.span_id.to_vec(),
            name: SPAN_NAME.into(),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: self.unix_nanos,
            end_time_unix_nano: self.unix_nanos + 1_000_000,
            attributes: vec![
                kv(ID_ATTRIBUTE, &self.id()),
                KeyValue {
                    key: SAMPLING_PRIORITY.into(),
                    value: Some(AnyValue {
                        value: Some(Value::IntValue(1)),
                    }),
                },
            ],
            status: Some(Status {
                code: status::StatusCode::Ok as i32,
                ..Status::default()
            }),
            ..Span::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: self.resource(),
                scope_spans: vec![ScopeSpans {
                    scope: Self::scope(),
                    spans: vec![span],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
        .encode_to_vec()
    }

    /// The log record, as an OTLP protobuf body.
    pub fn logs(&self) -> Vec<u8> {
        let record = LogRecord {
            time_unix_nano: self.unix_nanos,
            observed_time_unix_nano: self.unix_nanos,
            severity_number: SeverityNumber::Info as i32,
            severity_text: "INFO".into(),
            body: Some(AnyValue {
                value: Some(Value::StringValue(format!("sextant probe {}", self.id()))),
            }),
            attributes: vec![kv(ID_ATTRIBUTE, &self.id())],
            trace_id: self.trace_id.to_vec(),
            span_id: self.span_id.to_vec(),
            ..LogRecord::default()
        };
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: self.resource(),
                scope_logs: vec![ScopeLogs {
                    scope: Self::scope(),
                    log_records: vec![record],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        }
        .encode_to_vec()
    }

    /// The gauge point, as an OTLP protobuf body.
    pub fn metrics(&self) -> Vec<u8> {
        let point = NumberDataPoint {
            attributes: vec![kv(ID_ATTRIBUTE, &self.id())],
            time_unix_nano: self.unix_nanos,
            value: Some(number_data_point::Value::AsDouble(
                self.unix_nanos as f64 / 1e9,
            )),
            ..NumberDataPoint::default()
        };
        let metric = Metric {
            name: METRIC.into(),
            description: "When sextant's probe sent this point, in Unix seconds.".into(),
            data: Some(Data::Gauge(Gauge {
                data_points: vec![point],
            })),
            ..Metric::default()
        };
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: self.resource(),
                scope_metrics: vec![ScopeMetrics {
                    scope: Self::scope(),
                    metrics: vec![metric],
                    ..ScopeMetrics::default()
                }],
                ..ResourceMetrics::default()
            }],
        }
        .encode_to_vec()
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_decode_to_what_was_meant() {
        let p = Probe::new("ns/s".into());
        assert_eq!(p.id().len(), 32);
        let t = ExportTraceServiceRequest::decode(p.traces().as_slice()).unwrap();
        let span = &t.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.trace_id, p.trace_id);
        assert_eq!(span.attributes[0].key, ID_ATTRIBUTE);
        let l = ExportLogsServiceRequest::decode(p.logs().as_slice()).unwrap();
        let rec = &l.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(
            (rec.trace_id.as_slice(), rec.span_id.as_slice()),
            (&p.trace_id[..], &p.span_id[..])
        );
        let m = ExportMetricsServiceRequest::decode(p.metrics().as_slice()).unwrap();
        let metric = &m.resource_metrics[0].scope_metrics[0].metrics[0];
        assert_eq!(metric.name, METRIC);
        let res = m.resource_metrics[0].resource.as_ref().unwrap();
        assert_eq!(
            res.attributes[0].value.as_ref().unwrap().value,
            Some(Value::StringValue(SERVICE_NAME.into()))
        );
        assert_ne!(Probe::new("ns/s".into()).id(), p.id());
    }
}
