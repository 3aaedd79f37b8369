//! `spec.export`: unique destination names, one kind each, the signals each
//! kind takes, endpoints in the form the collector's exporters read, header
//! names, and the Secret names and keys credentials come from.

use std::collections::BTreeSet;

use super::Validator;
use crate::api::{ExportDestination, ExportSignal, ObservabilityStackSpec, OtlpProtocol};

impl Validator {
    pub(super) fn export(&mut self, spec: &ObservabilityStackSpec) {
        if !spec.export.is_empty() && !spec.collector.enabled {
            self.err(
                "spec.export",
                "needs the collector (spec.collector.enabled): it is what sends to the destinations",
            );
        }
        let mut names = BTreeSet::new();
        for (i, d) in spec.export.iter().enumerate() {
            let p = format!("spec.export[{i}]");
            if !super::is_dns_label(&d.name) || d.name.len() > 40 {
                self.err(
                    format!("{p}.name"),
                    "must hold only lower case letters, digits and '-' (at most 40)",
                );
            }
            self.unique(&mut names, format!("{p}.name"), &d.name, "");
            self.destination(&p, d);
        }
    }

    fn destination(&mut self, p: &str, d: &ExportDestination) {
        let mut signals = BTreeSet::new();
        for s in &d.signals {
            if !signals.insert(*s) {
                self.err(
                    format!("{p}.signals"),
                    format!("{} is listed twice", s.as_str()),
                );
            }
        }
        if d.signals.is_empty() {
            self.err(format!("{p}.signals"), "must name at least one signal");
        }
        match (&d.otlp, &d.prometheus_remote_write) {
            (Some(o), None) => match o.protocol {
                OtlpProtocol::Grpc => {
                    self.grpc_endpoint(&format!("{p}.otlp.endpoint"), &o.endpoint)
                }
                OtlpProtocol::Http => {
                    self.export_url(&format!("{p}.otlp.endpoint"), &o.endpoint);
                    if o.insecure {
                        self.err(
                            format!("{p}.otlp.insecure"),
                            "is for grpc only: with http, the endpoint's scheme (http:// or https://) says it",
                        );
                    }
                }
            },
            (None, Some(rw)) => {
                self.export_url(&format!("{p}.prometheusRemoteWrite.url"), &rw.url);
                if signals.iter().any(|s| *s != ExportSignal::Metrics) {
                    self.err(
                        format!("{p}.signals"),
                        "must be [metrics] for prometheusRemoteWrite: remote write carries metrics only",
                    );
                }
            }
            _ => self.err(
                p.to_string(),
                "set exactly one of otlp and prometheusRemoteWrite",
            ),
        }
        let mut headers = BTreeSet::new();
        for (j, h) in d.headers.iter().enumerate() {
            let hp = format!("{p}.headers[{j}]");
            let lower = h.name.to_ascii_lowercase();
            if !is_header_name(&h.name) {
                self.err(
                    format!("{hp}.name"),
                    "must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)",
                );
            } else if !headers.insert(lower.clone()) {
                self.err(format!("{hp}.name"), format!("{:?} is set twice", h.name));
            } else if lower == "authorization"
                && (d.bearer_token.is_some() || d.basic_auth.is_some())
            {
                self.err(
                    format!("{hp}.name"),
                    "is set by bearerToken or basicAuth: set one or the other",
                );
            }
            match (&h.value, &h.value_from) {
                (Some(v), None) => {
                    if v.contains(['\r', '\n']) {
                        self.err(format!("{hp}.value"), "must be one line");
                    } else if v.contains('$') {
                        self.err(format!("{hp}.value"), DOLLAR);
                    }
                }
                (None, Some(k)) => {
                    self.secret_name(format!("{hp}.valueFrom.secretName"), &k.secret_name);
                    self.secret_key(&format!("{hp}.valueFrom.key"), &k.key);
                }
                _ => self.err(hp, "set exactly one of value and valueFrom"),
            }
        }
        if d.bearer_token.is_some() && d.basic_auth.is_some() {
            self.err(
                format!("{p}.basicAuth"),
                "set bearerToken or basicAuth, not both",
            );
        }
        if let Some(t) = &d.bearer_token {
            self.secret_name(format!("{p}.bearerToken.secretName"), &t.secret_name);
            self.secret_key(&format!("{p}.bearerToken.key"), &t.key);
        }
        if let Some(b) = &d.basic_auth {
            self.secret_name(format!("{p}.basicAuth.secretName"), &b.secret_name);
            self.secret_key(&format!("{p}.basicAuth.usernameKey"), &b.username_key);
            self.secret_key(&format!("{p}.basicAuth.passwordKey"), &b.password_key);
        }
        if let Some(ca) = &d.ca_secret_name {
            self.secret_name(format!("{p}.caSecretName"), ca);
        }
    }

    /// `host:port`: what the gRPC exporter dials (it strips a scheme, but one
    /// form is clearer; TLS is on unless `insecure`).
    fn grpc_endpoint(&mut self, path: &str, e: &str) {
        let ok = !e.contains("://")
            && !e.contains('$')
            && e.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty()
                    && !host.contains(['/', ' '])
                    && port.parse::<u16>().is_ok_and(|n| n > 0)
            });
        if !ok {
            self.err(
                path,
                "must be host:port without a scheme, such as otlp.example.com:4317 (set insecure: true for no TLS)",
            );
        }
    }

    fn export_url(&mut self, path: &str, u: &str) {
        if u.contains('$') {
            self.err(path, DOLLAR);
            return;
        }
        match url::Url::parse(u) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                if !url.username().is_empty() || url.password().is_some() {
                    self.err(
                        path,
                        "must not hold credentials: use basicAuth (from a Secret) instead",
                    );
                }
            }
            _ => self.err(path, "must be an http:// or https:// URL with a host"),
        }
    }
}

/// The collector expands `${...}` in its config (its confmap providers), so a
/// `$` in a value written into it would read the pod's environment or files.
const DOLLAR: &str =
    "must not hold '$': the collector would expand it (put a secret in a Secret: valueFrom)";

/// An RFC 9110 token.
fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
