{{/* The chart name, or nameOverride. */}}
{{- define "sextant.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of every object: fullnameOverride, else the release name when it
contains the chart name, else "<release>-<chart>". */}}
{{- define "sextant.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sextant.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "sextant.labels" -}}
helm.sh/chart: {{ include "sextant.chart" . }}
{{ include "sextant.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sextant
{{- end }}

{{/* Labels that select the operator's pods. */}}
{{- define "sextant.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sextant.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "sextant.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sextant.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sextant.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* "true" when the chart ships the cluster-collection ClusterRoles and the
operator may bind them: asked for, or by default in the cluster-wide mode. */}}
{{- define "sextant.clusterCollection" -}}
{{- $v := .Values.clusterCollection.enabled }}
{{- if kindIs "bool" $v }}{{ if $v }}true{{ end }}
{{- else if not .Values.watchNamespaces }}true{{ end }}
{{- end }}

{{/* "true" when the operator holds a Lease before writing: asked for, or needed
because more than one replica runs. */}}
{{- define "sextant.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/*
The permissions of the operator on the objects it manages, in one place for the
ClusterRole (default) and the per-namespace Roles (watchNamespaces). Each rule names
the calls that need it (src/controller/); e2e/tests/helm.rs checks the list against
the API server's audit log of the operator's ServiceAccount.
*/}}
{{- define "sextant.rules" -}}
# The stacks: the controller's list+watch; the finalizers are added and removed
# with a JSON patch, and a stack read afresh (get) when that patch finds the cached
# stack out of date (finalizer.rs).
- apiGroups: ["observability.sextant.dev"]
  resources: ["observabilitystacks"]
  verbs: ["get", "list", "watch", "patch"]
# Status conditions, components and endpoints: server-side apply (reconcile.rs).
- apiGroups: ["observability.sextant.dev"]
  resources: ["observabilitystacks/status"]
  verbs: ["patch"]
# Children: list and watch by the label app.kubernetes.io/managed-by=sextant (the
# operator's cache of its children, which it reconciles from, and the trigger of
# the owner's reconcile: controller/cache.rs), server-side apply (a PATCH, which
# the API server also authorizes as create when the object does not exist yet),
# delete of children no longer wanted (apply.rs). ConfigMaps are also listed by
# spec.grafana.dashboards.configMapSelector (references.rs) and watched by
# metadata for it.
- apiGroups: [""]
  resources: ["configmaps", "services", "serviceaccounts"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# Secrets: the generated Grafana admin Secret is created once, never updated
# (apply.rs create_secrets); the contact points' Secret <stack>-grafana-alerting is
# server-side applied (patch) like a ConfigMap; referenced Secrets are read (get,
# references.rs: contact-point values, admin keys) and watched by metadata
# (controller/mod.rs); list/watch/delete as for other children.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Not called by the operator: it creates a Role granting Prometheus these verbs on pods
# (service discovery of the stack's own components), and RBAC lets nobody grant
# what it does not hold.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
# Claims: cached like the other children (list, watch); listed and deleted with
# the stack under storage.deletionPolicy Delete (finalizer.rs); listed and grown
# (merge patch of spec.resources) when a volume size grows (volumes.rs); Grafana's
# data claim (spec.grafana.storage) created and grown by server-side apply (apply.rs).
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# The node agent's DaemonSet, like the Deployments.
- apiGroups: ["apps"]
  resources: ["daemonsets"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# StatefulSets also: get of the live volume claim template before each apply, and
# delete with orphan propagation to re-create one whose volumes grew (volumes.rs).
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# autoscaling/v2 and policy/v1: used only where the API server serves them (1.23+ and
# 1.21+); the collector's autoscaler and the PodDisruptionBudgets of the stack.
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# The stack's NetworkPolicies, one per component (spec.networkPolicies).
# and Grafana's Ingress (spec.grafana.ingress).
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies", "ingresses"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# Grafana's HTTPRoute (spec.grafana.httpRoute) and the collector's cert-manager
# Certificate (spec.collector.tls.certificate), where their CRDs are installed:
# cached, applied and pruned like the other children (watched only where the CRD
# is served at the operator's start).
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["list", "watch", "create", "patch", "delete"]
- apiGroups: ["cert-manager.io"]
  resources: ["certificates"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# Prometheus's Role (pods get/list/watch) and its RoleBinding.
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["list", "watch", "create", "patch", "delete"]
# Events on the stacks (kube-runtime's Recorder: create, then patch a repeat
# within 6 minutes into a series).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}


{{/* Cluster-scoped reads: whether a claim's StorageClass allows volume expansion,
before growing it (volumes.rs). */}}
{{- define "sextant.clusterRules" -}}
# Whether a claim's StorageClass allows expansion, read before growing it (volumes.rs).
- apiGroups: ["storage.k8s.io"]
  resources: ["storageclasses"]
  verbs: ["get"]
{{- end }}
