{{/*
The chart name, or nameOverride; at most 63 characters (a DNS label).
*/}}
{{- define "dts-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects: fullnameOverride, else the release name when it
already contains the chart name, else "<release>-<chart>"; at most 63 characters.
*/}}
{{- define "dts-exporter.fullname" -}}
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

{{/*
"<chart>-<version>" for the helm.sh/chart label.
*/}}
{{- define "dts-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels that select the exporter's pods; never change them on upgrade.
*/}}
{{- define "dts-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dts-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of every object: commonLabels, overridden by the selector labels and the chart's
app.kubernetes.io/* and helm.sh/chart labels.
*/}}
{{- define "dts-exporter.labels" -}}
{{- $labels := deepCopy (.Values.commonLabels | default dict) }}
{{- $_ := set $labels "helm.sh/chart" (include "dts-exporter.chart" .) }}
{{- $_ := set $labels "app.kubernetes.io/component" "exporter" }}
{{- $_ := set $labels "app.kubernetes.io/part-of" "dts-exporter" }}
{{- $_ := set $labels "app.kubernetes.io/managed-by" .Release.Service }}
{{- if .Chart.AppVersion }}
{{- $_ := set $labels "app.kubernetes.io/version" (.Chart.AppVersion | toString) }}
{{- end }}
{{- $labels = mergeOverwrite $labels (fromYaml (include "dts-exporter.selectorLabels" .)) }}
{{- toYaml $labels }}
{{- end }}

{{/*
Labels of the pod: the object labels plus podLabels and, with RRSA, the label that asks
ACK's pod-identity webhook to inject credentials; the selector labels always win.
*/}}
{{- define "dts-exporter.podLabels" -}}
{{- $labels := fromYaml (include "dts-exporter.labels" .) }}
{{- $labels = mergeOverwrite $labels (deepCopy (.Values.podLabels | default dict)) }}
{{- if eq (include "dts-exporter.credentialsMode" .) "rrsa" }}
{{- $_ := set $labels "pod-identity.alibabacloud.com/injection" "on" }}
{{- end }}
{{- $labels = mergeOverwrite $labels (fromYaml (include "dts-exporter.selectorLabels" .)) }}
{{- toYaml $labels }}
{{- end }}

{{/*
The service account the pod runs as.
*/}}
{{- define "dts-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dts-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The exporter image: [registry/]repository:tag, the tag defaulting to appVersion. No image
is published for the chart to default to: the user builds one and names it.
*/}}
{{- define "dts-exporter.image" -}}
{{- $repository := required "image.repository is required: build the image from this repository's Dockerfile and push it to your registry (see the chart README, 'The image')" .Values.image.repository }}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- if .Values.image.registry }}
{{- printf "%s/%s:%s" .Values.image.registry $repository $tag }}
{{- else }}
{{- printf "%s:%s" $repository $tag }}
{{- end }}
{{- end }}

{{/*
The exporter's config file, as written into the ConfigMap (no trailing newline).
*/}}
{{- define "dts-exporter.configYaml" -}}
{{- toYaml .Values.config }}
{{- end }}

{{/*
The credential mode: "existingSecret", "createSecret", "rrsa" or "none". Fails when more
than one mode is configured, or a mode is configured incompletely.
*/}}
{{- define "dts-exporter.credentialsMode" -}}
{{- $c := .Values.credentials }}
{{- $modes := list }}
{{- if $c.existingSecret }}
{{- $modes = append $modes "credentials.existingSecret" }}
{{- end }}
{{- if or $c.accessKeyId $c.accessKeySecret }}
{{- $modes = append $modes "credentials.accessKeyId/accessKeySecret" }}
{{- end }}
{{- if $c.rrsa.enabled }}
{{- $modes = append $modes "credentials.rrsa.enabled" }}
{{- end }}
{{- if gt (len $modes) 1 }}
{{- fail (printf "credentials: exactly one credential mode may be set, got %d: %s. Choose one of credentials.existingSecret, credentials.accessKeyId/accessKeySecret, credentials.rrsa.enabled." (len $modes) (join ", " $modes)) }}
{{- end }}
{{- if $c.existingSecret }}
{{- "existingSecret" }}
{{- else if or $c.accessKeyId $c.accessKeySecret }}
{{- if not (and $c.accessKeyId $c.accessKeySecret) }}
{{- fail "credentials: set both credentials.accessKeyId and credentials.accessKeySecret for the chart to create a Secret (or use credentials.existingSecret)." }}
{{- end }}
{{- "createSecret" }}
{{- else if $c.rrsa.enabled }}
{{- if not $c.rrsa.roleName }}
{{- fail "credentials.rrsa.roleName is required when credentials.rrsa.enabled is true (the RAM role the pod assumes)." }}
{{- end }}
{{- if and $c.rrsa.explicitConfig (not (and $c.rrsa.roleArn $c.rrsa.oidcProviderArn)) }}
{{- fail "credentials.rrsa.roleArn and credentials.rrsa.oidcProviderArn are required when credentials.rrsa.explicitConfig is true (set them, or set explicitConfig to false to rely on ACK's pod-identity webhook)." }}
{{- end }}
{{- "rrsa" }}
{{- else }}
{{- "none" }}
{{- end }}
{{- end }}

{{/*
The Secret the AccessKey env vars read from.
*/}}
{{- define "dts-exporter.secretName" -}}
{{- if .Values.credentials.existingSecret }}
{{- .Values.credentials.existingSecret }}
{{- else }}
{{- include "dts-exporter.fullname" . }}
{{- end }}
{{- end }}

{{/*
Where the projected RRSA token is mounted (the path ACK's webhook uses too).
*/}}
{{- define "dts-exporter.rrsaTokenDir" -}}
/var/run/secrets/ack.alibabacloud.com/rrsa-tokens
{{- end }}

{{/*
Object labels plus extra ones (a ServiceMonitor's `release`, the dashboard's
`grafana_dashboard`); the chart's own labels win on a clash. Call with (list $ extra).
*/}}
{{- define "dts-exporter.labelsWith" -}}
{{- $ctx := index . 0 }}
{{- $labels := deepCopy (index . 1 | default dict) }}
{{- $labels = mergeOverwrite $labels (fromYaml (include "dts-exporter.labels" $ctx)) }}
{{- toYaml $labels }}
{{- end }}
