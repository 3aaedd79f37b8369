//! Reconcile CPU cost per stack, without a cluster: validate, build, and render
//! (every child as JSON, as the operator serializes it, plus the applied-hash the
//! operator computes per child), over the three samples in `config/samples/`.
//!
//! `cargo bench --bench render` runs the criterion groups, then times `render`
//! (validate + build + every child as JSON) and `pipeline` (render + applied-hash)
//! one iteration at a time to report p50/p99/max per stack (criterion reports means
//! and medians, not tails). The percentiles are written as JSON to
//! `$SEXTANT_BENCH_RENDER_OUT` (default `$CARGO_TARGET_DIR/criterion/render-percentiles.json`),
//! which `bench/run.py` reads for BENCHMARKS.md.
//!
//! Environment: `SEXTANT_BENCH_QUICK=1` shortens every measurement (for CI smoke runs);
//! `SEXTANT_BENCH_ITERS` sets the number of timed iterations for the percentiles (default 2000).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::Criterion;
use sextant::api::ObservabilityStack;
use sextant::build::build;
use sextant::cli::{self, Format};
use sextant::controller::drift::applied_hash;
use sextant::model::Capabilities;
use sextant::validate::Dereferenced;
use sextant::validate::validate;

const SAMPLES: &[&str] = &["minimal", "agent-fleet", "production"];

/// The checkout this bench runs in (at run time: the compile-time value names the
/// checkout that first built the cached binary).
fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn load(name: &str) -> ObservabilityStack {
    let path = format!("{}/config/samples/{name}.yaml", root().display());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    cli::parse(&path, &text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// validate + build + render: the validated stack, every child, each child as the
/// JSON that is sent (what `sextant render -o json` computes, without printing).
fn render(stack: &ObservabilityStack) -> Vec<serde_json::Value> {
    let valid = validate(stack, &Dereferenced::offline()).expect("sample is valid");
    build(&valid, &Capabilities::current()).to_values()
}

/// What one reconcile computes before it talks to the API server: `render`, plus
/// the applied-hash of every child (serialized again and hashed with SHA-256).
fn pipeline(stack: &ObservabilityStack) -> usize {
    let values = render(stack);
    let mut bytes = 0;
    for v in &values {
        bytes += applied_hash(v).len();
    }
    bytes + values.len()
}

fn timed(iters: usize, mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..iters / 10 {
        f();
    }
    let mut micros: Vec<f64> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    micros.sort_by(f64::total_cmp);
    micros
}

fn summary(micros: &[f64]) -> serde_json::Value {
    serde_json::json!({
        "mean_us": micros.iter().sum::<f64>() / micros.len().max(1) as f64,
        "p50_us": percentile(micros, 50.0),
        "p90_us": percentile(micros, 90.0),
        "p99_us": percentile(micros, 99.0),
        "max_us": micros.last().copied().unwrap_or(f64::NAN),
    })
}

fn quick() -> bool {
    std::env::var_os("SEXTANT_BENCH_QUICK").is_some_and(|v| v != "0")
}

fn criterion_groups(c: &mut Criterion) {
    for name in SAMPLES {
        let stack = load(name);
        let valid = validate(&stack, &Dereferenced::offline()).expect("sample is valid");
        let built = build(&valid, &Capabilities::current());
        let mut g = c.benchmark_group(*name);
        g.bench_function("validate", |b| {
            b.iter(|| validate(black_box(&stack), &Dereferenced::offline()))
        });
        g.bench_function("build", |b| {
            b.iter(|| build(black_box(&valid), &Capabilities::current()))
        });
        g.bench_function("to_json", |b| b.iter(|| black_box(&built).to_values()));
        g.bench_function("render_yaml", |b| {
            b.iter(|| cli::format(black_box(&built), Format::Yaml))
        });
        g.bench_function("render", |b| b.iter(|| render(black_box(&stack))));
        g.bench_function("pipeline", |b| b.iter(|| pipeline(black_box(&stack))));
        g.finish();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn percentiles() {
    let iters: usize = std::env::var("SEXTANT_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick() { 300 } else { 2000 });
    let mut rows = Vec::new();
    for name in SAMPLES {
        let stack = load(name);
        let valid = validate(&stack, &Dereferenced::offline()).expect("sample is valid");
        let built = build(&valid, &Capabilities::current());
        let children = built.to_values().len();
        let yaml_bytes = cli::format(&built, Format::Yaml).len();
        let r = timed(iters, || {
            black_box(render(black_box(&stack)));
        });
        let p = timed(iters, || {
            black_box(pipeline(black_box(&stack)));
        });
        let row = serde_json::json!({
            "sample": name,
            "children": children,
            "yaml_bytes": yaml_bytes,
            "iterations": iters,
            "render": summary(&r),
            "pipeline": summary(&p),
        });
        println!(
            "percentiles {name}: {children} children; render p50 {:.0} us, p99 {:.0} us; with applied-hash p50 {:.0} us, p99 {:.0} us ({iters} iterations each)",
            percentile(&r, 50.0),
            percentile(&r, 99.0),
            percentile(&p, 50.0),
            percentile(&p, 99.0),
        );
        rows.push(row);
    }
    let out = std::env::var_os("SEXTANT_BENCH_RENDER_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root().join("target"))
                .join("criterion")
                .join("render-percentiles.json")
        });
    if let Some(dir) = out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let text =
        serde_json::to_string_pretty(&serde_json::json!({ "samples": rows })).unwrap_or_default();
    if let Err(e) = std::fs::write(&out, text + "\n") {
        eprintln!("cannot write {}: {e}", out.display());
    } else {
        println!("percentiles written to {}", out.display());
    }
}

fn main() {
    let (warm, measure, samples) = if quick() {
        (Duration::from_millis(200), Duration::from_millis(500), 10)
    } else {
        (Duration::from_millis(500), Duration::from_secs(2), 30)
    };
    let mut c = Criterion::default()
        .warm_up_time(warm)
        .measurement_time(measure)
        .sample_size(samples)
        .configure_from_args();
    criterion_groups(&mut c);
    c.final_summary();
    // `cargo test --benches` runs this binary in test mode: skip the timing loop.
    if !std::env::args().any(|a| a == "--test" || a == "--list") {
        percentiles();
    }
}
