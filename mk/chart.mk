# The Helm chart, the container image, the API reference and the demo. Included
# from the top-level Makefile.
#
#   make chart-check   every offline check of the install path (part of `make test`):
#                      chart-lint, chart-test and api-docs-check
#   make chart-lint    helm lint --strict, with the default and each ci/*-values.yaml
#   make chart-test    scripts/chart-test.sh: CRD drift, helm template + kubernetes-validate
#                      --strict (1.33), RBAC/Pod Security assertions, values.schema.json
#   make chart-crds    copy crds/observabilitystacks.yaml into the chart (after `make crds`)
#   make api-docs      regenerate docs/api.md from the CRD
#   make api-docs-check  fail when docs/api.md is stale
#   make image         scripts/image.sh: the OCI image without a container engine (release
#                      build, umoci, Debian bookworm base, SBOM) in $(IMAGE_OUT)/oci
#   make docker-image  docker build -t $(IMAGE) . (needs a running Docker engine)
#   make demo          scripts/demo.sh: local control plane, chart, operator, a sample stack

CHART_DIR := charts/sextant
CHART_APP_VERSION = $(shell sed -n 's/^appVersion: "\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' $(CHART_DIR)/Chart.yaml)
IMAGE ?= ghcr.io/sextant-dev/sextant:$(CHART_APP_VERSION)
IMAGE_OUT ?= $(SEXTANT_CACHE)/image/out
# Python with PyYAML: the kubernetes-validate venv's (installed by scripts/tools.sh).
SEXTANT_PYTHON = $(shell p=$$(PATH="$(SEXTANT_TOOLS_PATH):$$PATH" command -v kubernetes-validate) && \
	d=$$(dirname "$$(readlink -f "$$p")") && [ -x "$$d/python" ] && echo "$$d/python" || echo python3)

.PHONY: chart-check chart-lint chart-test chart-crds api-docs api-docs-check image docker-image demo

chart-check: chart-lint chart-test api-docs-check

chart-lint: tools
	@set -e; export PATH="$(SEXTANT_TOOLS_PATH):$$PATH"; \
	helm lint --strict $(CHART_DIR); \
	for f in $(CHART_DIR)/ci/*-values.yaml; do helm lint --strict $(CHART_DIR) -f "$$f"; done

chart-test: tools
	scripts/chart-test.sh

chart-crds:
	cp crds/observabilitystacks.yaml $(CHART_DIR)/crds/observabilitystacks.yaml

api-docs: tools
	$(SEXTANT_PYTHON) scripts/api-docs.py

api-docs-check: tools
	$(SEXTANT_PYTHON) scripts/api-docs.py --check

image:
	scripts/image.sh --out $(IMAGE_OUT) --tag $(CHART_APP_VERSION)
	@echo "push it with: skopeo copy oci:$(IMAGE_OUT)/oci:$(CHART_APP_VERSION) docker://$(IMAGE)"

docker-image:
	@command -v docker >/dev/null 2>&1 || { \
		echo "make docker-image: docker is not installed. Install Docker, use 'make image' (no engine needed), or build the Dockerfile with another OCI builder, e.g. 'podman build -t $(IMAGE) .')." >&2; exit 1; }
	@docker info >/dev/null 2>&1 || { \
		echo "make docker-image: no Docker engine answers ('docker info' failed: is the daemon running, and may you use its socket?). Start one and rerun, or build the Dockerfile with another OCI builder, e.g. 'podman build -t $(IMAGE) .'." >&2; exit 1; }
	DOCKER_BUILDKIT=1 docker build -t $(IMAGE) .
	@echo "built $(IMAGE); push it with: docker push $(IMAGE)"

demo:
	scripts/demo.sh
