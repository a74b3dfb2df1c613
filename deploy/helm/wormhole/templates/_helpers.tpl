{{/*
Chart name, for the app.kubernetes.io/name label.
*/}}
{{- define "wormhole.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Full name: <release>-<chart>, or <release> when it already contains the chart name.
*/}}
{{- define "wormhole.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "wormhole.server.fullname" -}}
{{- printf "%s-server" (include "wormhole.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wormhole.client.fullname" -}}
{{- printf "%s-client" (include "wormhole.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Persistent volume claims: one per component, named after it.
*/}}
{{- define "wormhole.server.pvcName" -}}
{{- printf "%s-state" (include "wormhole.server.fullname" .) -}}
{{- end -}}

{{- define "wormhole.client.pvcName" -}}
{{- printf "%s-state" (include "wormhole.client.fullname" .) -}}
{{- end -}}

{{/*
Secrets of --state kubernetes: one per component, named like the PVCs unless set.
*/}}
{{- define "wormhole.server.stateSecret" -}}
{{- default (include "wormhole.server.pvcName" .) .Values.server.state.secretName -}}
{{- end -}}

{{- define "wormhole.client.stateSecret" -}}
{{- default (include "wormhole.client.pvcName" .) .Values.client.state.secretName -}}
{{- end -}}

{{/*
Secret with the admin token of the server (key admin-token).
*/}}
{{- define "wormhole.server.adminTokenSecret" -}}
{{- if .Values.server.adminToken.existingSecret -}}
{{- .Values.server.adminToken.existingSecret -}}
{{- else -}}
{{- printf "%s-admin-token" (include "wormhole.server.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
Secret with the admin token of the client (key admin-token).
*/}}
{{- define "wormhole.client.adminTokenSecret" -}}
{{- if .Values.client.adminToken.existingSecret -}}
{{- .Values.client.adminToken.existingSecret -}}
{{- else -}}
{{- printf "%s-admin-token" (include "wormhole.client.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
Namespace of the Services the server creates.
*/}}
{{- define "wormhole.server.kubernetesNamespace" -}}
{{- default .Release.Namespace .Values.server.kubernetes.namespace -}}
{{- end -}}

{{/*
Image reference: what deploy/docker/Dockerfile builds, tagged with the appVersion by default.
*/}}
{{- define "wormhole.image" -}}
{{- $tag := default .Chart.AppVersion .Values.docker.version -}}
{{- if .Values.docker.registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" .Values.docker.registry) .Values.docker.image $tag -}}
{{- else -}}
{{- printf "%s:%s" .Values.docker.image $tag -}}
{{- end -}}
{{- end -}}

{{/*
Labels of every object.
*/}}
{{- define "wormhole.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "wormhole.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/*
Selector labels. The server's --kubernetes-labels must select the same pod: keep
wormhole.server.selectorLabels and wormhole.server.kubernetesLabels in step.
*/}}
{{- define "wormhole.server.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wormhole.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "wormhole.client.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wormhole.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: client
{{- end -}}

{{/*
The server pod's own labels as k=v,k=v for --kubernetes-labels: the Services the
server creates use them as their selector.
*/}}
{{- define "wormhole.server.kubernetesLabels" -}}
app.kubernetes.io/name={{ include "wormhole.name" . }},app.kubernetes.io/instance={{ .Release.Name }},app.kubernetes.io/component=server
{{- range $key, $value := .Values.server.kubernetes.labels -}}
,{{ $key }}={{ $value }}
{{- end -}}
{{- end -}}

{{/*
The server pod's affinity: server.affinity as given; else, with several replicas, a soft pod
anti-affinity (replicas on different nodes when the scheduler can, together when it cannot).
*/}}
{{- define "wormhole.server.affinity" -}}
{{- if .Values.server.affinity -}}
{{- toYaml .Values.server.affinity -}}
{{- else if gt (int .Values.server.replicas) 1 -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "wormhole.server.selectorLabels" . | nindent 12 }}
{{- end -}}
{{- end -}}

{{/*
The client pod's own labels as k=v,k=v for its --kubernetes-labels: the Services it
creates for the apps the server offers select the pod by them.
*/}}
{{- define "wormhole.client.kubernetesLabels" -}}
app.kubernetes.io/name={{ include "wormhole.name" . }},app.kubernetes.io/instance={{ .Release.Name }},app.kubernetes.io/component=client
{{- range $key, $value := .Values.client.offers.proxyServices.labels -}}
,{{ $key }}={{ $value }}
{{- end -}}
{{- end -}}
