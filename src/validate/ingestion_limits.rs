//! `spec.loki.limits` and `spec.tempo.limits`: sizes that parse and are not
//! zero, bursts no smaller than their rates (a burst below the rate refuses
//! pushes the rate would allow), and counts of at least one.

use super::Validator;
use crate::api::ObservabilityStackSpec;
use crate::model::{LokiLimitBytes, TempoLimitBytes};
use crate::units::parse_byte_size;

impl Validator {
    /// A byte size of at least one byte that fits 64 bits.
    fn limit_size(&mut self, path: &str, value: &str) -> u64 {
        match parse_byte_size(value).map(u64::try_from) {
            Ok(Ok(0)) => {
                self.err(path, "must be larger than 0B");
                0
            }
            Ok(Ok(b)) => b,
            Ok(Err(_)) => {
                self.err(path, "is larger than 16EiB");
                0
            }
            Err(e) => {
                self.err(path, e);
                0
            }
        }
    }

    fn burst(&mut self, path: &str, burst: u64, rate: u64, rate_field: &str) {
        if burst > 0 && rate > 0 && burst < rate {
            self.err(
                path,
                format!("must be at least {rate_field}: a burst below the rate refuses what the rate allows"),
            );
        }
    }

    fn at_least_one(&mut self, path: &str, n: u32) {
        if n == 0 {
            self.err(path, "must be at least 1");
        }
    }

    pub(super) fn ingestion_limits(
        &mut self,
        spec: &ObservabilityStackSpec,
    ) -> (LokiLimitBytes, TempoLimitBytes) {
        let l = &spec.loki.limits;
        let p = "spec.loki.limits";
        let loki = LokiLimitBytes {
            ingestion_rate: self.limit_size(&format!("{p}.ingestionRate"), &l.ingestion_rate),
            ingestion_burst: self.limit_size(&format!("{p}.ingestionBurst"), &l.ingestion_burst),
            per_stream_rate: self.limit_size(&format!("{p}.perStreamRate"), &l.per_stream_rate),
            per_stream_burst: self.limit_size(&format!("{p}.perStreamBurst"), &l.per_stream_burst),
        };
        self.burst(
            &format!("{p}.ingestionBurst"),
            loki.ingestion_burst,
            loki.ingestion_rate,
            "ingestionRate",
        );
        self.burst(
            &format!("{p}.perStreamBurst"),
            loki.per_stream_burst,
            loki.per_stream_rate,
            "perStreamRate",
        );
        self.at_least_one(&format!("{p}.maxStreams"), l.max_streams);

        let t = &spec.tempo.limits;
        let p = "spec.tempo.limits";
        let tempo = TempoLimitBytes {
            ingestion_rate: self.limit_size(&format!("{p}.ingestionRate"), &t.ingestion_rate),
            ingestion_burst: self.limit_size(&format!("{p}.ingestionBurst"), &t.ingestion_burst),
            max_trace_size: self.limit_size(&format!("{p}.maxTraceSize"), &t.max_trace_size),
        };
        self.burst(
            &format!("{p}.ingestionBurst"),
            tempo.ingestion_burst,
            tempo.ingestion_rate,
            "ingestionRate",
        );
        self.at_least_one(&format!("{p}.maxLiveTraces"), t.max_live_traces);
        (loki, tempo)
    }
}
