#!/usr/bin/env bash
# make demo: from a machine with no cluster to a Ready ObservabilityStack.
#
# Local (default):
#   1. scripts/tools.sh install (kubectl, helm, etcd, kube-apiserver ...; cached)
#   2. builds sextant and the simulated kubelet (cargo)
#   3. e2e/cluster.sh up: a local Kubernetes 1.20 control plane with a SIMULATED
#      kubelet: pods are marked Running and Ready, but no container ever runs
#   4. helm install charts/sextant into sextant-system with replicaCount=0 (no image
#      can run here), then runs the operator as a local process with the token of the
#      chart's own ServiceAccount and the arguments of the chart's Deployment
#   5. kubectl apply -f config/samples/agent-fleet.yaml, waits for Ready while
#      printing `kubectl get obs` every few seconds, then prints `kubectl get obs` and
#      `kubectl describe obs agents`
#   6. stops the operator process it started; leaves the cluster running
#
# SEXTANT_E2E_CLUSTER=external: uses the cluster KUBECONFIG points at: helm install
# with the real image (ghcr.io/sextant-dev/sextant:<appVersion>), waits for its
# rollout, applies the sample; runs no local process and starts no cluster.
#
# Environment: SEXTANT_E2E_DIR (local state dir, default .e2e), DEMO_TIMEOUT
# (seconds to wait for Ready, default 300), DEMO_NAMESPACE (default observability).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/sextant/target}

MODE=${SEXTANT_E2E_CLUSTER:-local}
STATE=${SEXTANT_E2E_DIR:-$ROOT/.e2e}
[[ $STATE == /* ]] || STATE="$ROOT/$STATE"
RELEASE=sextant
RELEASE_NS=sextant-system
NS=${DEMO_NAMESPACE:-observability}
SAMPLE=config/samples/agent-fleet.yaml
STACK=agents
TIMEOUT=${DEMO_TIMEOUT:-300}
PID_FILE="$STATE/demo-operator.pid"
OP_LOG="$STATE/logs/demo-operator.log"

if [[ -t 1 ]]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; fi
step() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$PLAIN"; }
say() { printf '    %s\n' "$@"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

# stop_operator: stops the operator a demo started (its pid file), if it still runs.
stop_operator() {
  [[ -f $PID_FILE ]] || return 0
  local pid
  pid=$(<"$PID_FILE")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "sextant run"; then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    say "stopped the operator process (pid $pid)"
  fi
  rm -f "$PID_FILE"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

step "Installing the tools (scripts/tools.sh install; the first run builds kube-apiserver, about 8 min)"
scripts/tools.sh install
eval "$(scripts/tools.sh env)"
say "kubectl $(kubectl version --client 2>/dev/null | head -n1 | sed 's/.*: //'), helm $(helm version --short)"

if [[ $MODE == external ]]; then
  step "Using your cluster (SEXTANT_E2E_CLUSTER=external, KUBECONFIG=${KUBECONFIG:-$HOME/.kube/config})"
  e2e/cluster.sh up >/dev/null
  step "helm install $RELEASE charts/sextant -n $RELEASE_NS (the operator runs in the cluster, image $(sed -n 's/^appVersion: "\{0,1\}\([^"]*\)"\{0,1\}$/ghcr.io\/sextant-dev\/sextant:\1/p' charts/sextant/Chart.yaml))"
  # --reset-values: an earlier local demo's replicaCount=0 must not carry over.
  helm upgrade --install "$RELEASE" charts/sextant -n "$RELEASE_NS" --create-namespace \
    --server-side=false --reset-values
  kubectl -n "$RELEASE_NS" rollout status "deployment/$RELEASE" --timeout=300s
else
  [[ $MODE == local ]] || die "SEXTANT_E2E_CLUSTER must be 'local' or 'external', not '$MODE'"
  step "Building sextant and the simulated kubelet (cargo build)"
  cargo build -p sextant --bin sextant -p sextant-e2e --bin sim-kubelet
  step "Starting the local control plane (e2e/cluster.sh up)"
  say "Kubernetes 1.20 (etcd, kube-apiserver, kube-controller-manager) on loopback, plus a"
  say "SIMULATED kubelet: it binds pods to a fake node and marks them Running and Ready."
  say "No container runs: the stack's pods are simulated. Point SEXTANT_E2E_CLUSTER=external"
  say "at a real cluster (kind, k3d, ...) to run the real images."
  KUBECONFIG=$(e2e/cluster.sh up | tail -n 1)
  export KUBECONFIG
  stop_operator
  step "helm install $RELEASE charts/sextant -n $RELEASE_NS --set replicaCount=0"
  say "replicaCount=0: no image can run on this control plane, so the chart installs the CRD,"
  say "ServiceAccount, ClusterRole and binding, and the operator runs as a local process with"
  say "the token of the chart's ServiceAccount (not an admin credential)."
  # --server-side=false: Kubernetes < 1.25 rejects the CRD's CEL rules in a server-side apply.
  helm upgrade --install "$RELEASE" charts/sextant -n "$RELEASE_NS" --create-namespace \
    --server-side=false --reset-values --set replicaCount=0 >/dev/null
  helm status "$RELEASE" -n "$RELEASE_NS" | sed -n '1,6p'

  step "Starting the operator: sextant run, as ServiceAccount $RELEASE_NS/$RELEASE"
  secret=""
  for _ in $(seq 1 50); do
    secret=$(kubectl -n "$RELEASE_NS" get serviceaccount "$RELEASE" -o 'jsonpath={.secrets[0].name}' 2>/dev/null || true)
    [[ -n $secret ]] && break
    sleep 0.2
  done
  [[ -n $secret ]] || die "the token controller gave ServiceAccount $RELEASE_NS/$RELEASE no token Secret"
  token=$(kubectl -n "$RELEASE_NS" get secret "$secret" -o 'jsonpath={.data.token}' | base64 -d)
  kubectl -n "$RELEASE_NS" get secret "$secret" -o 'jsonpath={.data.ca\.crt}' | base64 -d >"$STATE/demo-operator.ca.crt"
  server=$(kubectl config view --minify -o 'jsonpath={.clusters[0].cluster.server}')
  op_kubeconfig="$STATE/demo-operator.kubeconfig"
  (
    umask 077
    rm -f "$op_kubeconfig"
    kc=(kubectl --kubeconfig "$op_kubeconfig" config)
    "${kc[@]}" set-cluster demo --server="$server" --certificate-authority="$STATE/demo-operator.ca.crt" >/dev/null
    "${kc[@]}" set-credentials "$RELEASE_NS:$RELEASE" --token="$token" >/dev/null
    "${kc[@]}" set-context demo --cluster=demo --user="$RELEASE_NS:$RELEASE" >/dev/null
    "${kc[@]}" use-context demo >/dev/null
  )
  # The operator's flags exactly as the chart's Deployment passes them, but for the
  # metrics address (a free loopback port instead of 0.0.0.0:8080).
  mapfile -t args < <(kubectl -n "$RELEASE_NS" get deployment "$RELEASE" \
    -o 'jsonpath={range .spec.template.spec.containers[0].args[*]}{@}{"\n"}{end}')
  port=$(free_port)
  run_args=()
  for a in "${args[@]}"; do
    [[ $a == --metrics-addr* ]] || run_args+=("$a")
  done
  run_args+=("--metrics-addr=127.0.0.1:$port")
  mkdir -p "$STATE/logs"
  KUBECONFIG=$op_kubeconfig POD_NAMESPACE=$RELEASE_NS POD_NAME=sextant-demo \
    setsid "$CARGO_TARGET_DIR/debug/sextant" "${run_args[@]}" </dev/null >"$OP_LOG" 2>&1 &
  echo $! >"$PID_FILE"
  say "sextant ${run_args[*]}"
  say "pid $(<"$PID_FILE"), log $OP_LOG, metrics http://127.0.0.1:$port/metrics"
  for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    kill -0 "$(<"$PID_FILE")" 2>/dev/null || { tail -n 20 "$OP_LOG" >&2; die "the operator exited"; }
    sleep 0.2
  done
fi

step "kubectl apply -f $SAMPLE (namespace $NS)"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
sed "s/^  namespace: observability$/  namespace: $NS/" "$SAMPLE" | kubectl apply -f -

step "Waiting for $STACK to be Ready (kubectl get obs every 3 s, up to ${TIMEOUT}s)"
[[ $MODE == external ]] || say "(pods are simulated: the simulated kubelet marks them Ready; nothing runs)"
start=$SECONDS
deadline=$((SECONDS + TIMEOUT))
while :; do
  printf '\n[%3ss] $ kubectl get obs -n %s\n' "$((SECONDS - start))" "$NS"
  kubectl get obs -n "$NS" 2>&1 || true
  status=$(kubectl get obs "$STACK" -n "$NS" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
  [[ $status == True ]] && break
  if ((SECONDS >= deadline)); then
    kubectl describe obs "$STACK" -n "$NS" || true
    [[ -f $OP_LOG ]] && tail -n 30 "$OP_LOG" >&2
    stop_operator
    die "$STACK was not Ready after ${TIMEOUT}s"
  fi
  sleep 3
done

step "kubectl get obs -n $NS"
kubectl get obs -n "$NS"
step "kubectl describe obs $STACK -n $NS"
kubectl describe obs "$STACK" -n "$NS"

if [[ $MODE == external ]]; then
  step "Done: sextant runs in your cluster (namespace $RELEASE_NS)"
  say "Remove the stack:   kubectl delete obs $STACK -n $NS"
  say "Uninstall sextant:  helm uninstall $RELEASE -n $RELEASE_NS   (see docs/install.md: Uninstalling)"
else
  step "Stopping the operator process the demo started"
  stop_operator
  step "Done. The stack is $STACK in namespace $NS; its pods were SIMULATED (no container ran)."
  say "The local control plane is still running. Look around:"
  say "  export KUBECONFIG=$KUBECONFIG"
  say "  kubectl get obs,statefulsets,deployments,pods -n $NS"
  if [[ -n ${SEXTANT_E2E_DIR:-} ]]; then
    say "Stop it and delete its state:  SEXTANT_E2E_DIR=$SEXTANT_E2E_DIR make cluster-down"
  else
    say "Stop it and delete its state:  make cluster-down"
  fi
fi
