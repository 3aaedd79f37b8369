//! `spec.storage.objectStore`: one provider, a bucket per running signal named
//! by that provider's rules, an endpoint Loki and Tempo both read the same way
//! (`host[:port]`, no scheme), Secret names, the ServiceAccount annotations, and
//! the day Loki's object-store schema period starts.

use chrono::NaiveDate;

use super::Validator;
use crate::api::{ObjectStoreSpec, ObservabilityStackSpec};
use crate::model::FIRST_LOKI_PERIOD;

const PATH: &str = "spec.storage.objectStore";

/// Which provider's naming rules a bucket follows.
#[derive(Clone, Copy)]
enum Provider {
    S3,
    Gcs,
    Azure,
}

impl Validator {
    pub(super) fn object_store(&mut self, spec: &ObservabilityStackSpec) {
        let Some(o) = &spec.storage.object_store else {
            return;
        };
        let provider = self.provider(o);
        let buckets = [
            ("logs", &o.buckets.logs, spec.loki.enabled, "Loki"),
            ("traces", &o.buckets.traces, spec.tempo.enabled, "Tempo"),
        ];
        for (key, bucket, needed, who) in buckets {
            let path = format!("{PATH}.buckets.{key}");
            match bucket {
                None if needed => self.err(
                    path,
                    format!("is needed while {who} runs: it keeps its data in this bucket"),
                ),
                None => {}
                Some(b) => {
                    if let Some(p) = provider {
                        self.bucket(&path, b, p);
                    }
                }
            }
        }
        if let (Some(l), Some(t)) = (&o.buckets.logs, &o.buckets.traces)
            && l == t
        {
            self.err(
                format!("{PATH}.buckets.traces"),
                "must differ from buckets.logs: Loki and Tempo each need a bucket of their own",
            );
        }
        if let Some(s3) = &o.s3 {
            if s3.endpoint.is_none() && s3.region.is_none() {
                self.err(
                    format!("{PATH}.s3"),
                    "needs an endpoint or a region (AWS's endpoint of the region is used when endpoint is unset)",
                );
            }
            if let Some(e) = &s3.endpoint {
                self.endpoint(&format!("{PATH}.s3.endpoint"), e);
            }
            if let Some(r) = &s3.region
                && (r.is_empty()
                    || !r
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
            {
                self.err(
                    format!("{PATH}.s3.region"),
                    "must hold only lower case letters, digits and '-', such as eu-west-1",
                );
            }
            if let Some(ca) = &s3.ca_secret_name
                && self.secret_name(format!("{PATH}.s3.caSecretName"), ca)
                && s3.insecure
            {
                self.err(
                    format!("{PATH}.s3.caSecretName"),
                    "needs insecure: false: a CA is for HTTPS, and insecure: true is plain HTTP",
                );
            }
        }
        if let Some(a) = &o.azure {
            let n = &a.account_name;
            if !(3..=24).contains(&n.len())
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                self.err(
                    format!("{PATH}.azure.accountName"),
                    "must be 3 to 24 lower case letters and digits (an Azure storage account name)",
                );
            }
            if let Some(s) = &a.endpoint_suffix
                && !super::is_dns_subdomain(s)
            {
                self.err(
                    format!("{PATH}.azure.endpointSuffix"),
                    "must be a host name such as blob.core.chinacloudapi.cn (no scheme, no path)",
                );
            }
        }
        if let Some(s) = &o.credentials_secret {
            self.secret_name(format!("{PATH}.credentialsSecret"), s);
        }
        for key in o.service_account_annotations.keys() {
            self.annotation_key(format!("{PATH}.serviceAccountAnnotations[{key:?}]"), key);
        }
        if let Some(day) = &o.logs_since {
            self.logs_since(day);
        }
    }

    fn provider(&mut self, o: &ObjectStoreSpec) -> Option<Provider> {
        let set: Vec<Provider> = [
            o.s3.as_ref().map(|_| Provider::S3),
            o.gcs.as_ref().map(|_| Provider::Gcs),
            o.azure.as_ref().map(|_| Provider::Azure),
        ]
        .into_iter()
        .flatten()
        .collect();
        match set.as_slice() {
            [one] => Some(*one),
            _ => {
                self.err(PATH, "set exactly one of s3, gcs and azure");
                None
            }
        }
    }

    /// The provider's bucket (container) naming rules, the part both Loki and
    /// Tempo pass on unchanged to it: a wrong name fails only at the first write.
    fn bucket(&mut self, path: &str, name: &str, p: Provider) {
        let edge_ok = name
            .bytes()
            .next()
            .zip(name.bytes().last())
            .is_some_and(|(a, z)| a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric());
        let (chars_ok, rule) = match p {
            Provider::S3 => (
                name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
                }) && !name.contains(".."),
                "3 to 63 lower case letters, digits, '.' and '-', starting and ending with a letter or digit (S3 bucket naming)",
            ),
            Provider::Gcs => (
                name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
                }) && !name.contains(".."),
                "3 to 63 lower case letters, digits, '.', '-' and '_', starting and ending with a letter or digit (GCS bucket naming)",
            ),
            Provider::Azure => (
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !name.contains("--"),
                "3 to 63 lower case letters, digits and single '-', starting and ending with a letter or digit (Azure container naming)",
            ),
        };
        if !(3..=63).contains(&name.len()) || !edge_ok || !chars_ok {
            self.err(path, format!("must be {rule}"));
        }
    }

    /// `host` or `host:port`. Loki adds `http://` or `https://` by `insecure`
    /// when the value has no `://` (grafana/loki v3.7.6
    /// `pkg/storage/chunk/client/aws/s3_storage_client.go`, `s3ClientConfigFunc`),
    /// but Tempo hands it to minio-go, which takes a bare host only
    /// (`tempodb/backend/s3/s3.go`): the one form both read is the bare one.
    fn endpoint(&mut self, path: &str, endpoint: &str) {
        if endpoint.contains("://") {
            self.err(
                path,
                "must be host or host:port without a scheme (set insecure: true for plain HTTP)",
            );
            return;
        }
        let (host, port) = match endpoint.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (endpoint, None),
        };
        let host_ok = super::is_dns_subdomain(&host.to_ascii_lowercase())
            || host.parse::<std::net::Ipv4Addr>().is_ok();
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
        if !host_ok || !port_ok {
            self.err(
                path,
                "must be host or host:port, such as s3.eu-west-1.amazonaws.com or minio.storage.svc:9000 (no path)",
            );
        }
    }

    fn logs_since(&mut self, day: &str) {
        let path = format!("{PATH}.logsSince");
        let first = NaiveDate::parse_from_str(FIRST_LOKI_PERIOD, "%Y-%m-%d").ok();
        match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            Ok(d) if first.is_some_and(|f| d > f) && day.len() == 10 => {}
            Ok(_) if day.len() == 10 => self.err(
                path,
                format!(
                    "must be after {FIRST_LOKI_PERIOD}, the start of Loki's first schema period"
                ),
            ),
            _ => self.err(
                path,
                "must be a date written YYYY-MM-DD, such as 2027-01-31",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(f: impl FnOnce(&mut Validator)) -> Vec<String> {
        let mut v = Validator::default();
        f(&mut v);
        v.errors.into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn endpoints_are_bare_hosts_with_an_optional_port() {
        for ok in [
            "s3.eu-west-1.amazonaws.com",
            "minio.storage.svc:9000",
            "10.0.0.7:9000",
            "MinIO.example.com",
        ] {
            assert!(errors(|v| v.endpoint("e", ok)).is_empty(), "{ok}");
        }
        for bad in [
            "http://minio:9000",
            "minio:0",
            "minio:99999",
            "minio:9000/bucket",
            "minio 1",
            "",
        ] {
            assert_eq!(errors(|v| v.endpoint("e", bad)).len(), 1, "{bad}");
        }
    }

    #[test]
    fn bucket_names_follow_each_provider() {
        let ok = |name, p| errors(|v| v.bucket("b", name, p)).is_empty();
        assert!(ok("acme.logs-1", Provider::S3));
        assert!(!ok("acme..logs", Provider::S3));
        assert!(!ok("acme_logs", Provider::S3));
        assert!(ok("acme_logs", Provider::Gcs));
        assert!(!ok("-acme", Provider::Gcs));
        assert!(ok("acme-logs", Provider::Azure));
        assert!(!ok("acme.logs", Provider::Azure));
        assert!(!ok("acme--logs", Provider::Azure));
        assert!(!ok("ab", Provider::S3));
        assert!(!ok(&"a".repeat(64), Provider::S3));
    }

    #[test]
    fn logs_since_is_a_real_day_after_the_first_period() {
        assert!(errors(|v| v.logs_since("2027-02-28")).is_empty());
        assert!(errors(|v| v.logs_since("2024-04-02")).is_empty());
        for bad in [
            "2024-04-01",
            "2023-12-31",
            "2027-02-29",
            "2027-2-1",
            "27-02-01",
        ] {
            assert_eq!(errors(|v| v.logs_since(bad)).len(), 1, "{bad}");
        }
    }
}
