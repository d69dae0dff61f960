{{/*
Names, labels and the environment shared by the chart's containers.
Keep to the functions scripts/helm-render implements (CI renders the chart with it).
*/}}

{{- define "fooocus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fooocus.fullname" -}}
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

{{/* "<fullname>-<component>", kept within the 63 characters of a DNS label. Call with (dict "ctx" . "component" "api"). */}}
{{- define "fooocus.componentName" -}}
{{- printf "%s-%s" (include "fooocus.fullname" .ctx | trunc 50 | trimSuffix "-") .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fooocus.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one component. Call with (dict "ctx" . "component" "api"). */}}
{{- define "fooocus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fooocus.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All recommended labels of one component. Call with (dict "ctx" . "component" "api"). */}}
{{- define "fooocus.labels" -}}
helm.sh/chart: {{ include "fooocus.chart" .ctx }}
{{ include "fooocus.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: fooocus-cloud
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "fooocus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fooocus.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "fooocus.apiImage" -}}
{{- printf "%s:%s" .Values.image.api.repository (default .Chart.AppVersion .Values.image.api.tag) }}
{{- end }}

{{- define "fooocus.workerImage" -}}
{{- printf "%s:%s-%s" .Values.image.worker.repository (default .Chart.AppVersion .Values.image.worker.tag) .Values.worker.device }}
{{- end }}

{{- define "fooocus.imagePullSecrets" -}}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/* The release's own Secret (see secret.yaml). */}}
{{- define "fooocus.secretName" -}}
{{- include "fooocus.fullname" . }}
{{- end }}

{{- define "fooocus.databaseSecretName" -}}
{{- if .Values.database.existingSecret }}{{ .Values.database.existingSecret }}{{ else }}{{ include "fooocus.secretName" . }}{{ end }}
{{- end }}

{{- define "fooocus.databaseSecretKey" -}}
{{- if .Values.database.existingSecret }}{{ .Values.database.existingSecretKey }}{{ else }}DATABASE_URL{{ end }}
{{- end }}

{{/* The database URL the chart itself stores (bundled or database.url); empty with an existing Secret. */}}
{{- define "fooocus.databaseUrl" -}}
{{- if .Values.database.bundled.enabled }}
{{- $b := .Values.database.bundled }}
{{- printf "postgres://%s:%s@%s:5432/%s" $b.username $b.password (include "fooocus.componentName" (dict "ctx" . "component" "postgres")) $b.database }}
{{- else if not .Values.database.existingSecret }}
{{- required "database.url or database.existingSecret is required when database.bundled.enabled is false" .Values.database.url }}
{{- end }}
{{- end }}

{{- define "fooocus.natsUrl" -}}
{{- if .Values.nats.bundled.enabled }}
{{- printf "nats://%s:4222" (include "fooocus.componentName" (dict "ctx" . "component" "nats")) }}
{{- else if not .Values.nats.existingSecret }}
{{- required "nats.url or nats.existingSecret is required when nats.bundled.enabled is false" .Values.nats.url }}
{{- end }}
{{- end }}

{{- define "fooocus.natsMonitoringEndpoint" -}}
{{- if .Values.nats.monitoringEndpoint }}
{{- .Values.nats.monitoringEndpoint }}
{{- else if .Values.nats.bundled.enabled }}
{{- printf "%s.%s.svc:8222" (include "fooocus.componentName" (dict "ctx" . "component" "nats")) .Release.Namespace }}
{{- else }}
{{- fail "nats.monitoringEndpoint is required for keda.enabled with an external NATS (KEDA reads consumer lag from the :8222 monitoring endpoint)" }}
{{- end }}
{{- end }}

{{- define "fooocus.s3Endpoint" -}}
{{- if .Values.s3.bundled.enabled }}
{{- printf "http://%s:9000" (include "fooocus.componentName" (dict "ctx" . "component" "minio")) }}
{{- else }}
{{- .Values.s3.endpoint }}
{{- end }}
{{- end }}

{{/* True ("true") when the release's Secret holds S3 credentials. */}}
{{- define "fooocus.s3KeysInSecret" -}}
{{- if or .Values.s3.bundled.enabled (and (not .Values.s3.existingSecret) .Values.s3.accessKeyId) }}true{{ end }}
{{- end }}

{{- define "fooocus.s3SecretName" -}}
{{- if and (not .Values.s3.bundled.enabled) .Values.s3.existingSecret }}{{ .Values.s3.existingSecret }}{{ else }}{{ include "fooocus.secretName" . }}{{ end }}
{{- end }}

{{/*
Environment every deployable that touches storage gets: Postgres, NATS, S3.
Names are keys of services/config/storageConfig.ts (test/chart checks it).
*/}}
{{- define "fooocus.storageEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "fooocus.databaseSecretName" . }}
      key: {{ include "fooocus.databaseSecretKey" . }}
- name: DATABASE_POOL_MAX
  value: {{ .Values.database.poolMax | int | toString | quote }}
{{- if and (not .Values.nats.bundled.enabled) .Values.nats.existingSecret }}
- name: NATS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.nats.existingSecret }}
      key: {{ .Values.nats.existingSecretKey }}
{{- else }}
- name: NATS_URL
  value: {{ include "fooocus.natsUrl" . | quote }}
{{- end }}
- name: NATS_STREAM
  value: {{ .Values.nats.stream | quote }}
- name: NATS_CONSUMER
  value: {{ .Values.nats.consumer | quote }}
- name: ACK_WAIT_MS
  value: {{ .Values.nats.ackWaitMs | int | toString | quote }}
- name: MAX_DELIVERIES
  value: {{ .Values.nats.maxDeliveries | int | toString | quote }}
- name: S3_BUCKET
  value: {{ required "s3.bucket is required" .Values.s3.bucket | quote }}
{{- with include "fooocus.s3Endpoint" . }}
- name: S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: S3_REGION
  value: {{ .Values.s3.region | quote }}
- name: S3_FORCE_PATH_STYLE
  value: {{ .Values.s3.forcePathStyle | toString | quote }}
- name: S3_CREATE_BUCKET
  value: {{ or .Values.s3.createBucket .Values.s3.bundled.enabled | toString | quote }}
{{- if or (include "fooocus.s3KeysInSecret" .) .Values.s3.existingSecret }}
- name: S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "fooocus.s3SecretName" . }}
      key: {{ if include "fooocus.s3KeysInSecret" . }}S3_ACCESS_KEY_ID{{ else }}{{ .Values.s3.accessKeyIdKey }}{{ end }}
- name: S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "fooocus.s3SecretName" . }}
      key: {{ if include "fooocus.s3KeysInSecret" . }}S3_SECRET_ACCESS_KEY{{ else }}{{ .Values.s3.secretAccessKeyKey }}{{ end }}
{{- end }}
{{- end }}

{{/* extraEnv map as env entries, in name order. Call with the map. */}}
{{- define "fooocus.extraEnv" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* Hardened container security context plus /tmp (tsx caches compiled files there). */}}
{{- define "fooocus.containerSecurityContext" -}}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- end }}

{{/* Name of the models PersistentVolumeClaim. */}}
{{- define "fooocus.modelsClaimName" -}}
{{- if .Values.worker.models.pvc.existingClaim }}{{ .Values.worker.models.pvc.existingClaim }}{{ else }}{{ include "fooocus.componentName" (dict "ctx" . "component" "models") }}{{ end }}
{{- end }}

{{- define "fooocus.graphCacheDir" -}}
{{- if eq .Values.worker.graphCache.location "models" }}
{{- printf "%s/.onnx-cache" (trimSuffix "/" .Values.worker.models.mountPath) }}
{{- else }}
{{- print "/var/cache/fooocus/onnx" }}
{{- end }}
{{- end }}

{{/* Cross-value rules the JSON schema cannot express. Included once from secret.yaml. */}}
{{- define "fooocus.validate" -}}
{{- if and .Values.keda.enabled .Values.scaler.enabled }}
{{- fail "keda.enabled and scaler.enabled both manage the worker Deployment's replicas: enable one of them" }}
{{- end }}
{{- if ge (int .Values.worker.shutdownGraceSeconds) (sub (int .Values.worker.terminationGracePeriodSeconds) 10) }}
{{- fail "worker.shutdownGraceSeconds must be at least 10 s below worker.terminationGracePeriodSeconds (the worker needs time to release its task before SIGKILL)" }}
{{- end }}
{{- if and .Values.worker.models.pvc.readOnly (eq .Values.worker.models.source "pvc") (eq .Values.worker.graphCache.location "models") }}
{{- fail "worker.graphCache.location=models needs a writable models volume: set worker.models.pvc.readOnly=false or worker.graphCache.location=emptyDir" }}
{{- end }}
{{- if gt (int .Values.keda.minReplicas) (int .Values.keda.maxReplicas) }}
{{- fail "keda.minReplicas must not exceed keda.maxReplicas" }}
{{- end }}
{{- if gt (int .Values.scaler.minReplicas) (int .Values.scaler.maxReplicas) }}
{{- fail "scaler.minReplicas must not exceed scaler.maxReplicas" }}
{{- end }}
{{- end }}

{{/* NetworkPolicy egress rule to the cluster DNS. */}}
{{- define "fooocus.np.dns" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .Values.networkPolicy.dns.namespace }}
      podSelector:
        matchLabels:
          {{- toYaml .Values.networkPolicy.dns.podLabels | nindent 10 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end }}

{{/*
NetworkPolicy egress rule to a backing service: the bundled pods, or the external CIDRs
(any address on those ports when no CIDR is given).
Call with (dict "ctx" . "bundled" bool "component" "postgres" "cidrs" list "ports" list).
*/}}
{{- define "fooocus.np.egress" -}}
- {{- if .bundled }}
  to:
    - podSelector:
        matchLabels:
          {{- include "fooocus.selectorLabels" (dict "ctx" .ctx "component" .component) | nindent 10 }}
  {{- else if .cidrs }}
  to:
    {{- range .cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  {{- end }}
  ports:
    {{- range .ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end }}
