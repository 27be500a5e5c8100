{{/* Names, labels, security contexts and shared pod parts. */}}

{{- define "model-commons.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "model-commons.fullname" -}}
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

{{/* Labels of every object; pass (dict "ctx" $ "component" "api"). */}}
{{- define "model-commons.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
{{ include "model-commons.selectorLabels" . }}
{{- end }}

{{- define "model-commons.selectorLabels" -}}
app.kubernetes.io/name: {{ include "model-commons.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "model-commons.secretName" -}}
{{- default (printf "%s-secrets" (include "model-commons.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "model-commons.configName" -}}
{{- printf "%s-config" (include "model-commons.fullname" .) }}
{{- end }}

{{- define "model-commons.prefectApiUrl" -}}
{{- if .Values.prefect.externalApiUrl }}
{{- .Values.prefect.externalApiUrl }}
{{- else }}
{{- printf "http://%s-prefect:%d/api" (include "model-commons.fullname" .) (int .Values.prefect.server.port) }}
{{- end }}
{{- end }}

{{- define "model-commons.s3Endpoint" -}}
{{- if .Values.minio.enabled }}
{{- printf "%s-minio:9000" (include "model-commons.fullname" .) }}
{{- else }}
{{- required "externalS3.endpoint is required when minio.enabled is false" .Values.externalS3.endpoint }}
{{- end }}
{{- end }}

{{- define "model-commons.image" -}}
{{- printf "%s:%s" .repository .tag }}
{{- end }}

{{/* Pod security context; pass (dict "ctx" $ "override" (dict ...)). */}}
{{- define "model-commons.podSecurityContext" -}}
{{- toYaml (merge (deepCopy (default dict .override)) (deepCopy .ctx.Values.podSecurityContext)) }}
{{- end }}

{{/* Container security context; pass (dict "ctx" $ "override" (dict ...)). */}}
{{- define "model-commons.containerSecurityContext" -}}
{{- toYaml (merge (deepCopy (default dict .override)) (deepCopy .ctx.Values.containerSecurityContext)) }}
{{- end }}

{{/* The COMMONS_* environment of project containers: the ConfigMap and the Secret. */}}
{{- define "model-commons.envFrom" -}}
- configMapRef:
    name: {{ include "model-commons.configName" . }}
- secretRef:
    name: {{ include "model-commons.secretName" . }}
{{- end }}

{{/* The environment of worker containers (warm workers, flow-run Jobs, the setup hook): the ConfigMap and,
from the Secret, only what a task needs to write its rows and outputs (database URL, S3 keys). Never
COMMONS_SECRET_KEY: only the API signs tokens, and a flow-run Job may run an image a version named. */}}
{{- define "model-commons.workerEnvFrom" -}}
- configMapRef:
    name: {{ include "model-commons.configName" . }}
{{- end }}

{{- define "model-commons.workerSecretEnv" -}}
{{- range list "COMMONS_DATABASE_URL" "COMMONS_S3_ACCESS_KEY" "COMMONS_S3_SECRET_KEY" }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ include "model-commons.secretName" $ }}
      key: {{ . }}
{{- end }}
{{- end }}

{{/* The checksum that rolls pods when a setting changes. */}}
{{- define "model-commons.configChecksum" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end }}

{{/* A Secret value: the given one, else the one already in the cluster, else a random one. */}}
{{- define "model-commons.secretValue" -}}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace (include "model-commons.secretName" .ctx) }}
{{- if .value }}
{{- .value }}
{{- else if and $existing (hasKey (default dict $existing.data) .key) }}
{{- index $existing.data .key | b64dec }}
{{- else }}
{{- randAlphaNum 40 }}
{{- end }}
{{- end }}
