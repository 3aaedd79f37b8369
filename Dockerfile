# syntax=docker/dockerfile:1
# The sextant operator image with Docker: `make docker-image` (docker build -t
# ghcr.io/sextant-dev/sextant:<version> .). `make image` (scripts/image.sh) builds the
# same layout without a container engine: /sextant, user 65532, entrypoint /sextant run,
# glibc of Debian 12 (docs/image.md says how the two differ).
# The Helm chart's default image is ghcr.io/sextant-dev/sextant:<chart appVersion>.

# ---- build: the release binary, from the locked dependency set
FROM rust:1.95-bookworm AS builder
WORKDIR /src
# The workspace as .dockerignore leaves it: every member's manifest and every target
# its manifest declares (the e2e crate, benches) must be present for cargo to load it.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p sextant --bin sextant \
    && install -D -m 0755 target/release/sextant /out/sextant

# ---- runtime: distroless (glibc, CA certificates, no shell), non-root
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="sextant" \
      org.opencontainers.image.description="Kubernetes operator: one ObservabilityStack becomes an OpenTelemetry Collector, Prometheus, Tempo, Loki and Grafana stack" \
      org.opencontainers.image.source="https://github.com/sextant-dev/sextant" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/sextant /sextant
# The distroless "nonroot" user; the chart runs it with the same UID and a read-only root.
USER 65532:65532
# /metrics, /healthz, /readyz
EXPOSE 8080
ENTRYPOINT ["/sextant"]
CMD ["run"]
