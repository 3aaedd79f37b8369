//! `spec.export`: unique destination names, one kind each, the signals each
//! kind takes, endpoints in the form the collector's exporters read, header
//! names, and the Secret names and keys credentials come from.

use std::collections::BTreeSet;

use super::Validator;
use crate::api::{
    ExportDestination, ExportSignal, OAuth2, ObservabilityStackSpec, OtlpProtocol, SigV4,
};

impl Validator {
    pub(super) fn export(&mut self, spec: &ObservabilityStackSpec) {
        if !spec.export.is_empty() && !spec.collector.enabled {
            self.err(
                "spec.export",
                "needs the collector (spec.collector.enabled): it is what sends to the destinations",
            );
        }
        for key in spec.collector.service_account_annotations.keys() {
            self.annotation_key(
                format!("spec.collector.serviceAccountAnnotations[{key:?}]"),
                key,
            );
        }
        // The collector's environment holds one set of AWS keys.
        let mut aws_keys: Option<(usize, &str)> = None;
        for (i, d) in spec.export.iter().enumerate() {
            let Some(s) = d
                .sigv4
                .as_ref()
                .and_then(|v| v.credentials_secret.as_deref())
            else {
                continue;
            };
            match aws_keys {
                Some((first, other)) if other != s => self.err(
                    format!("spec.export[{i}].sigv4.credentialsSecret"),
                    format!(
                        "must be spec.export[{first}]'s ({other}): the collector's environment holds one set of AWS keys"
                    ),
                ),
                Some(_) => {}
                None => aws_keys = Some((i, s)),
            }
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
                && let Some(by) = auth_names(d).first()
            {
                self.err(
                    format!("{hp}.name"),
                    format!("is set by {by}: set one or the other"),
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
        // The CRD's rule counts bearerToken and basicAuth as one (the rule
        // above reports them together).
        let kinds = usize::from(d.bearer_token.is_some() || d.basic_auth.is_some())
            + usize::from(d.oauth2.is_some())
            + usize::from(d.sigv4.is_some());
        if kinds > 1 {
            self.err(
                p.to_string(),
                "set at most one of bearerToken, basicAuth, oauth2 and sigv4",
            );
        }
        if let Some(o) = &d.oauth2 {
            self.oauth2(p, d, o);
        }
        if let Some(v) = &d.sigv4 {
            self.sigv4(p, d, v);
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

    fn oauth2(&mut self, p: &str, d: &ExportDestination, o: &OAuth2) {
        let op = format!("{p}.oauth2");
        self.export_url(&format!("{op}.tokenURL"), &o.token_url);
        if o.client_id.contains('$') {
            self.err(format!("{op}.clientId"), DOLLAR);
        } else if o.client_id.trim().is_empty() || o.client_id.contains(['\r', '\n']) {
            self.err(format!("{op}.clientId"), "must be one non-empty line");
        }
        self.secret_name(
            format!("{op}.clientSecret.secretName"),
            &o.client_secret.secret_name,
        );
        self.secret_key(&format!("{op}.clientSecret.key"), &o.client_secret.key);
        for (i, scope) in o.scopes.iter().enumerate() {
            // RFC 6749 section 3.3: printable ASCII but space, '"' and '\'.
            let ok = !scope.is_empty()
                && scope
                    .bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\' && b != b'$');
            if !ok {
                self.err(
                    format!("{op}.scopes[{i}]"),
                    "must be one OAuth2 scope token: printable ASCII without spaces, '\"', '\\' or '$'",
                );
            }
        }
        for (k, v) in &o.endpoint_params {
            if k.is_empty() || k.contains('$') || v.contains('$') || v.contains(['\r', '\n']) {
                self.err(
                    format!("{op}.endpointParams[{k:?}]"),
                    "keys must be non-empty, and neither keys nor values may hold '$' or a line break",
                );
            }
        }
        // The extension's gRPC credentials demand a secure transport
        // (`RequireTransportSecurity`), so the token never travels in the clear.
        if let Some(otlp) = &d.otlp
            && otlp.protocol == OtlpProtocol::Grpc
            && otlp.insecure
        {
            self.err(
                format!("{p}.otlp.insecure"),
                "must be false with oauth2: its token is sent over TLS only",
            );
        }
    }

    fn sigv4(&mut self, p: &str, d: &ExportDestination, v: &SigV4) {
        let sp = format!("{p}.sigv4");
        // sigv4auth wraps an HTTP client only (it is no gRPC authenticator).
        if d.otlp
            .as_ref()
            .is_some_and(|o| o.protocol == OtlpProtocol::Grpc)
        {
            self.err(
                sp.clone(),
                "signs HTTP requests only: use prometheusRemoteWrite or otlp with protocol: http",
            );
        }
        match &v.region {
            Some(r) if !is_aws_region(r) => self.err(
                format!("{sp}.region"),
                "must be an AWS region such as eu-west-1 (lower case letters, digits and '-')",
            ),
            Some(_) => {}
            None => {
                if crate::model::export::sigv4_region(d).is_none() {
                    self.err(
                        format!("{sp}.region"),
                        "is needed: it can be read only from an Amazon Managed Service for Prometheus URL (aps-workspaces.<region>.amazonaws.com)",
                    );
                }
            }
        }
        if v.service.is_empty()
            || !v
                .service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            self.err(
                format!("{sp}.service"),
                "must be an AWS service name such as aps (lower case letters, digits and '-')",
            );
        }
        if let Some(arn) = &v.role_arn
            && !(arn.starts_with("arn:") && arn.contains(":role/") && !arn.contains('$'))
        {
            self.err(
                format!("{sp}.roleArn"),
                "must be an IAM role ARN such as arn:aws:iam::123456789012:role/observability",
            );
        }
        if let Some(s) = &v.credentials_secret {
            self.secret_name(format!("{sp}.credentialsSecret"), s);
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

/// The auth options a destination sets, by field name.
fn auth_names(d: &ExportDestination) -> Vec<&'static str> {
    [
        d.bearer_token.as_ref().map(|_| "bearerToken"),
        d.basic_auth.as_ref().map(|_| "basicAuth"),
        d.oauth2.as_ref().map(|_| "oauth2"),
        d.sigv4.as_ref().map(|_| "sigv4"),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// `eu-west-1`, `us-gov-west-1`, `cn-north-1`: lower case letters, digits and `-`.
fn is_aws_region(r: &str) -> bool {
    !r.is_empty()
        && r.contains('-')
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An RFC 9110 token.
fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
