//! Checks PromQL against `sextant::catalogue`: which stored series an expression
//! selects, and which metric names, label names and `job` values in it no pinned
//! program produces.
//!
//! Metric names come from each selector's name or its `__name__` matchers (`=~`
//! regexes must match a catalogue series, and a regex made of literals and
//! `(a|b)` groups must match catalogue series only, every expansion of it). A
//! selector without a name stands for every series carrying all its matcher
//! labels, of which there must be one. Label names are checked in matchers (on
//! every series the selector can select), in `by`/`without`, `on`, `group_left`/
//! `group_right`, and in the `le` of `histogram_quantile` and the source labels of
//! `label_replace`/`label_join`, against the labels the inner expression can carry
//! (those every selected series has). What an `absent()` or a `label_replace`
//! target label carries is followed where it is known and otherwise left unchecked.

use std::collections::BTreeSet;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{self, Expr, LabelModifier, VectorMatchCardinality, VectorSelector};
use sextant::catalogue::{self, Program, Via};

/// What a checked expression selects, and what is wrong with it.
#[derive(Debug, Default)]
pub struct Report {
    /// Every catalogue series the expression's selectors can select.
    pub series: BTreeSet<String>,
    /// One line per unknown metric, label or job.
    pub problems: Vec<String>,
}

/// The label names an expression's result can carry.
#[derive(Clone, Debug)]
enum Shape {
    Scalar,
    Labels(BTreeSet<String>),
    Unknown,
}

/// Checks one PromQL expression.
pub fn check(expr: &str) -> Report {
    let mut r = Report::default();
    match parser::parse(expr) {
        Ok(e) => {
            shape(&e, &mut r);
        }
        Err(e) => r.problems.push(format!("does not parse: {e}")),
    }
    r
}

/// Checks a series selector as a filter applied to each of `metrics` (Grafana's
/// Tempo service map adds its filter to fixed metric names).
pub fn check_filter(selector: &str, metrics: &[&str]) -> Report {
    let mut r = Report::default();
    let inner = selector.trim();
    let inner = inner
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(inner);
    for m in metrics {
        let one = check(&format!("{m}{{{inner}}}"));
        r.series.extend(one.series);
        r.problems.extend(one.problems);
    }
    r
}

/// Checks `label_values(selector, label)`: the selector, and that the series it
/// selects carry `label`.
pub fn check_label_values(selector: &str, label: &str) -> Report {
    let mut r = Report::default();
    let Ok(e) = parser::parse(selector) else {
        r.problems.push(format!("does not parse: {selector}"));
        return r;
    };
    let s = shape(&e, &mut r);
    need(&s, &[label.to_string()], "label_values", &mut r);
    r
}

fn catalogue_labels(series: &str) -> BTreeSet<String> {
    catalogue::family_of(series)
        .map(|f| f.labels_of(series).iter().map(|s| s.to_string()).collect())
        .unwrap_or_default()
}

/// The `job` values a series can carry, or `None` where any value is possible
/// (OTLP series take `job` from `service.name`; remote-written ones have none).
fn jobs_of(series: &str) -> Option<BTreeSet<&'static str>> {
    let f = catalogue::family_of(series)?;
    match (f.name, f.via) {
        ("up", _) => Some(Program::ALL.iter().filter_map(|p| p.job()).collect()),
        (_, Via::PodScrape | Via::SelfScrape) => Some(f.program.job().into_iter().collect()),
        _ => None,
    }
}

/// The strings a regex of literals, top-level `|` and `(a|b)` groups matches, or
/// `None` for any other regex.
pub fn expand(re: &str) -> Option<Vec<String>> {
    let literal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '/' | '-');
    let mut parts = vec![String::new()];
    let mut depth = 0;
    for c in re.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if c == '|' && depth == 0 {
            parts.push(String::new());
        } else {
            parts.last_mut()?.push(c);
        }
    }
    let mut out = Vec::new();
    for part in parts {
        let mut prefixes = vec![String::new()];
        let mut chars = part.chars();
        while let Some(c) = chars.next() {
            if c == '(' {
                let mut group = String::new();
                loop {
                    match chars.next()? {
                        ')' => break,
                        '(' => return None,
                        g => group.push(g),
                    }
                }
                let alts: Vec<&str> = group.split('|').collect();
                if !alts.iter().all(|a| a.chars().all(literal)) {
                    return None;
                }
                prefixes = prefixes
                    .iter()
                    .flat_map(|p| alts.iter().map(move |a| format!("{p}{a}")))
                    .collect();
            } else if literal(c) {
                prefixes.iter_mut().for_each(|p| p.push(c));
            } else {
                return None;
            }
        }
        out.extend(prefixes);
    }
    Some(out)
}

/// The catalogue series one group of matchers selects, checking its name matchers.
fn select(vs: &VectorSelector, matchers: &[Matcher], r: &mut Report) -> Vec<String> {
    let all = catalogue::series_names();
    let text = selector_text(vs, matchers);
    if let Some(name) = &vs.name {
        if all.contains(name) {
            return vec![name.clone()];
        }
        r.problems.push(format!(
            "{name} is not a series any pinned program produces (in {text})"
        ));
        return vec![];
    }
    let by_name: Vec<&Matcher> = matchers.iter().filter(|m| m.name == "__name__").collect();
    if by_name.is_empty() {
        let wanted: Vec<&str> = matchers.iter().map(|m| m.name.as_str()).collect();
        let found: Vec<String> = all
            .iter()
            .filter(|s| {
                let labels = catalogue_labels(s);
                wanted.iter().all(|w| labels.contains(*w))
            })
            .cloned()
            .collect();
        if found.is_empty() {
            r.problems.push(format!(
                "no series of a pinned program carries every label of {text}"
            ));
        }
        return found;
    }
    for m in &by_name {
        match &m.op {
            MatchOp::Equal if !all.contains(&m.value) => r.problems.push(format!(
                "{} is not a series any pinned program produces (in {text})",
                m.value
            )),
            MatchOp::Re(_) => {
                if let Some(names) = expand(&m.value) {
                    for n in names.iter().filter(|n| !all.contains(n)) {
                        r.problems.push(format!(
                            "{n} (an alternative of __name__=~{:?}) is not a series any pinned program produces",
                            m.value
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    let found: Vec<String> = all
        .iter()
        .filter(|s| by_name.iter().all(|m| m.is_match(s)))
        .cloned()
        .collect();
    if found.is_empty() {
        r.problems
            .push(format!("{text} selects no series of a pinned program"));
    }
    found
}

fn selector_text(vs: &VectorSelector, matchers: &[Matcher]) -> String {
    let inner: Vec<String> = matchers.iter().map(|m| m.to_string()).collect();
    format!(
        "{}{{{}}}",
        vs.name.as_deref().unwrap_or(""),
        inner.join(", ")
    )
}

/// Checks a selector's matchers against the series it selects; its shape is the
/// labels every selected series carries.
fn selector(vs: &VectorSelector, r: &mut Report) -> Shape {
    let groups: Vec<Vec<Matcher>> = if vs.matchers.or_matchers.is_empty() {
        vec![vs.matchers.matchers.clone()]
    } else {
        vs.matchers.or_matchers.clone()
    };
    let mut common: Option<BTreeSet<String>> = None;
    for group in groups {
        let series = select(vs, &group, r);
        let text = selector_text(vs, &group);
        for s in &series {
            let labels = catalogue_labels(s);
            for m in group.iter().filter(|m| m.name != "__name__") {
                if !labels.contains(&m.name) {
                    r.problems.push(format!(
                        "{s} has no label {:?} (in {text}); it has {labels:?}",
                        m.name
                    ));
                }
            }
            common = Some(match common {
                None => labels,
                Some(c) => c.intersection(&labels).cloned().collect(),
            });
        }
        for m in group.iter().filter(|m| m.name == "job") {
            let jobs: Option<BTreeSet<&str>> =
                series
                    .iter()
                    .map(|s| jobs_of(s))
                    .try_fold(BTreeSet::new(), |mut acc, j| {
                        acc.extend(j?);
                        Some(acc)
                    });
            let values = match &m.op {
                MatchOp::Equal => Some(vec![m.value.clone()]),
                MatchOp::Re(_) => expand(&m.value),
                _ => None,
            };
            if let (Some(jobs), Some(values)) = (jobs, values) {
                for v in values.iter().filter(|v| !jobs.contains(v.as_str())) {
                    r.problems.push(format!(
                        "job {v:?} is not a scrape job of {series:?} (in {text}); jobs: {jobs:?}"
                    ));
                }
            }
        }
        r.series.extend(series);
    }
    common.map_or(Shape::Unknown, Shape::Labels)
}

/// Reports labels of `wanted` the expression's result may lack.
fn need(shape: &Shape, wanted: &[String], context: &str, r: &mut Report) {
    if let Shape::Labels(have) = shape {
        for w in wanted.iter().filter(|w| !have.contains(*w)) {
            r.problems.push(format!(
                "label {w:?} in {context} is not carried by what it applies to (labels {have:?})"
            ));
        }
    }
}

fn labels_of(l: &promql_parser::label::Labels) -> Vec<String> {
    l.labels.clone()
}

fn string_arg(e: &Expr) -> Option<String> {
    match e {
        Expr::StringLiteral(s) => Some(s.val.clone()),
        Expr::Paren(p) => string_arg(&p.expr),
        _ => None,
    }
}

fn with(shape: Shape, extra: impl IntoIterator<Item = String>) -> Shape {
    match shape {
        Shape::Labels(mut l) => {
            l.extend(extra);
            Shape::Labels(l)
        }
        other => other,
    }
}

fn without(shape: Shape, drop: &[String]) -> Shape {
    match shape {
        Shape::Labels(l) => Shape::Labels(l.into_iter().filter(|x| !drop.contains(x)).collect()),
        other => other,
    }
}

fn shape(e: &Expr, r: &mut Report) -> Shape {
    match e {
        Expr::VectorSelector(vs) => selector(vs, r),
        Expr::MatrixSelector(ms) => selector(&ms.vs, r),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Shape::Scalar,
        Expr::Paren(p) => shape(&p.expr, r),
        Expr::Unary(u) => shape(&u.expr, r),
        Expr::Subquery(s) => shape(&s.expr, r),
        Expr::Extension(_) => Shape::Unknown,
        Expr::Aggregate(a) => {
            let inner = shape(&a.expr, r);
            let param = a.param.as_ref().map(|p| {
                shape(p, r);
                string_arg(p)
            });
            let op = a.op.to_string();
            let grouped = match &a.modifier {
                Some(LabelModifier::Include(l)) => {
                    let l = labels_of(l);
                    need(&inner, &l, &format!("{op} by"), r);
                    Shape::Labels(l.into_iter().collect())
                }
                Some(LabelModifier::Exclude(l)) => {
                    let l = labels_of(l);
                    need(&inner, &l, &format!("{op} without"), r);
                    without(inner.clone(), &l)
                }
                None => Shape::Labels(BTreeSet::new()),
            };
            match op.as_str() {
                "topk" | "bottomk" | "limitk" | "limit_ratio" => inner,
                "count_values" => with(grouped, param.flatten()),
                _ => grouped,
            }
        }
        Expr::Binary(b) => {
            let lhs = shape(&b.lhs, r);
            let rhs = shape(&b.rhs, r);
            let mut include = Vec::new();
            let mut on = None;
            let mut ignoring = Vec::new();
            if let Some(m) = &b.modifier {
                match &m.matching {
                    Some(LabelModifier::Include(l)) => {
                        let l = labels_of(l);
                        need(&lhs, &l, "on (left side)", r);
                        need(&rhs, &l, "on (right side)", r);
                        on = Some(l);
                    }
                    Some(LabelModifier::Exclude(l)) => ignoring = labels_of(l),
                    None => {}
                }
                match &m.card {
                    VectorMatchCardinality::ManyToOne(l) => {
                        include = labels_of(l);
                        need(&rhs, &include, "group_left", r);
                    }
                    VectorMatchCardinality::OneToMany(l) => {
                        include = labels_of(l);
                        need(&lhs, &include, "group_right", r);
                    }
                    _ => {}
                }
            }
            match (lhs, rhs) {
                (Shape::Scalar, Shape::Scalar) => Shape::Scalar,
                (Shape::Scalar, other) | (other, Shape::Scalar) => other,
                (Shape::Labels(l), Shape::Labels(rl)) if b.op.to_string() == "or" => {
                    Shape::Labels(l.union(&rl).cloned().collect())
                }
                (l, _) if b.op.is_set_operator() => l,
                (l, _) => {
                    let kept = match on {
                        Some(on) if include.is_empty() => Shape::Labels(on.into_iter().collect()),
                        _ => without(l, &ignoring),
                    };
                    with(kept, include)
                }
            }
        }
        Expr::Call(c) => {
            let args: Vec<Shape> = c.args.args.iter().map(|a| shape(a, r)).collect();
            let first = args
                .iter()
                .find(|s| !matches!(s, Shape::Scalar))
                .cloned()
                .unwrap_or(Shape::Scalar);
            let strings: Vec<Option<String>> = c.args.args.iter().map(|a| string_arg(a)).collect();
            match c.func.name {
                "histogram_quantile" => {
                    let le = ["le".to_string()];
                    need(&first, &le, "histogram_quantile", r);
                    without(first, &le)
                }
                "label_replace" => {
                    if let Some(Some(src)) = strings.get(3)
                        && !src.is_empty()
                    {
                        need(&first, std::slice::from_ref(src), "label_replace source", r);
                    }
                    with(first, strings.get(1).cloned().flatten())
                }
                "label_join" => {
                    let src: Vec<String> = strings.iter().skip(3).flatten().cloned().collect();
                    need(&first, &src, "label_join source", r);
                    with(first, strings.get(1).cloned().flatten())
                }
                "vector" => Shape::Labels(BTreeSet::new()),
                "absent" | "absent_over_time" => Shape::Unknown,
                _ if c.func.return_type == ValueType::Scalar => Shape::Scalar,
                _ => first,
            }
        }
    }
}
