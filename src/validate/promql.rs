//! PromQL (and LogQL stream selectors, which parse as PromQL selectors) parsed
//! once per process: every expression a stack carries is parsed again on each
//! reconcile, and promql-parser compiles a regular expression for every `=~` and
//! `!~` matcher it meets (about 265 µs per validation of the agent-fleet sample
//! before this memo, BENCHMARKS.md). The memo is bounded: when it holds
//! [`CAPACITY`] expressions it is emptied and fills again.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use promql_parser::parser::{self, Expr};

/// Expressions remembered at most (a stack has a few dozen).
pub const CAPACITY: usize = 4096;

static PARSED: LazyLock<Mutex<HashMap<String, Result<Expr, String>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// `promql_parser::parser::parse`, remembered.
pub fn parse(expr: &str) -> Result<Expr, String> {
    let mut memo = PARSED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(hit) = memo.get(expr) {
        return hit.clone();
    }
    let parsed = parser::parse(expr);
    if memo.len() >= CAPACITY {
        memo.clear();
    }
    memo.insert(expr.to_owned(), parsed.clone());
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_results_equal_fresh_ones() {
        for expr in [
            r#"{service_name=~"agent-sandbox-.*"}"#,
            "rate(x_total[5m])",
            "sum(",
        ] {
            let first = parse(expr);
            let again = parse(expr);
            assert_eq!(first, parser::parse(expr));
            assert_eq!(again, first);
        }
        assert!(parse("sum(").is_err());
    }

    #[test]
    fn the_memo_stays_bounded() {
        for i in 0..CAPACITY + 10 {
            let _ = parse(&format!("metric_{i}"));
        }
        let len = PARSED.lock().unwrap().len();
        assert!(len <= CAPACITY, "{len} expressions remembered");
    }
}
