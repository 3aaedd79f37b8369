//! Syntax of Kubernetes and Prometheus names: DNS labels and subdomains, label
//! keys and values, Prometheus label names.

pub(super) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(super) fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A label value: at most 63 characters, alphanumeric at both ends, `-_.` inside.
pub(super) fn is_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
}

/// A label key: an optional DNS-subdomain prefix and '/', then a name like a value.
pub(super) fn is_label_key(k: &str) -> bool {
    let (prefix, name) = match k.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    prefix.is_none_or(|p| !p.is_empty() && is_dns_subdomain(p))
        && !name.is_empty()
        && is_label_value(name)
}

/// An RFC 1123 DNS label: at most 63 lower case alphanumerics or '-', starting and
/// ending alphanumeric.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// An RFC 1123 DNS subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

impl super::Validator {
    /// An error at `path` unless `name` is a Secret name; whether it is.
    pub(super) fn secret_name(&mut self, path: impl Into<String>, name: &str) -> bool {
        let ok = is_dns_subdomain(name);
        if !ok {
            self.err(
                path,
                "must be a Secret name (a DNS subdomain: lower case letters, digits, '-' and '.')",
            );
        }
        ok
    }

    /// An error at `path` unless `key` is an annotation key; whether it is.
    pub(super) fn annotation_key(&mut self, path: impl Into<String>, key: &str) -> bool {
        let ok = is_label_key(key);
        if !ok {
            self.err(
                path,
                "must be an annotation key (an optional DNS subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.')",
            );
        }
        ok
    }
}
