# Test tools and the local e2e control plane. Included from the top-level Makefile.
#
#   make tools            install promtool, prometheus, kubectl, helm, kubernetes-validate,
#                         etcd, kube-apiserver and kube-controller-manager 1.20.2, and the
#                         Kubernetes 1.36 CRD server (apiextensions-apiserver + etcd 3.5)
#                         into the cache (${SEXTANT_CACHE:-$HOME/.cache/sextant}); fast
#                         when cached
#   make cluster-up       start (or reuse) the local control plane; prints the kubeconfig
#   make cluster-down     stop it and delete its state directory
#   make cluster-status   show its processes and health (fails when unhealthy)
#
# SEXTANT_E2E_CLUSTER=external makes the cluster-* targets use the current KUBECONFIG.
# $(SEXTANT_TOOLS_PATH) is the tools' bin dirs joined by ':' (evaluated when used), e.g.
#   some-target: export PATH := $(SEXTANT_TOOLS_PATH):$(PATH)

SEXTANT_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
SEXTANT_TOOLS_SH := $(SEXTANT_ROOT)/scripts/tools.sh
SEXTANT_CLUSTER_SH := $(SEXTANT_ROOT)/e2e/cluster.sh
SEXTANT_TOOLS_PATH = $(shell $(SEXTANT_TOOLS_SH) path)

.PHONY: tools cluster-up cluster-down cluster-status

tools:
	@$(SEXTANT_TOOLS_SH) install

cluster-up:
	@$(SEXTANT_CLUSTER_SH) up

cluster-down:
	@$(SEXTANT_CLUSTER_SH) down

cluster-status:
	@$(SEXTANT_CLUSTER_SH) status
