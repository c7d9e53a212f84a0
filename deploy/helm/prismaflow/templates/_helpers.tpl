{{/* Names, labels and the pieces every Prismaflow pod shares. */}}

{{- define "prismaflow.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "prismaflow.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "core") */}}
{{- define "prismaflow.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The Secret the pods mount: existingSecret, required unless demo; in demo without one, the
chart's own <release>-demo-secrets (templates/demo-secret.yaml: generated keys, no credentials). */}}
{{- define "prismaflow.secretName" -}}
{{- if .Values.demo -}}
{{- default (printf "%s-demo-secrets" (include "prismaflow.fullname" .)) .Values.existingSecret -}}
{{- else -}}
{{- required "existingSecret is required unless demo: true (a Secret with one key per secret setting; see values.yaml)" .Values.existingSecret -}}
{{- end -}}
{{- end -}}

{{/*
The workloads of the chart, as YAML: name -> kind, args, replicas, resources, consumer group.
Stages with Kafka transactions (core, analyse, sinks, sync) are StatefulSets.
*/}}
{{- define "prismaflow.workloads" -}}
{{- $group := default "prismaflow" .Values.config.PRISMAFLOW_WORKER_GROUP_PREFIX -}}
{{- if .Values.core.enabled }}
core: {kind: StatefulSet, args: [run, core], replicas: {{ .Values.core.replicas }}, group: {{ printf "%s.core" $group | quote }}, resources: {{ toJson .Values.core.resources }}}
{{- end }}
{{- if .Values.analyse.enabled }}
analyse: {kind: StatefulSet, args: [run, analyse], replicas: {{ .Values.analyse.replicas }}, group: {{ printf "%s.sink.analyse" $group | quote }}, resources: {{ toJson .Values.analyse.resources }}}
{{- end }}
{{- range $name, $sink := .Values.sinks }}
{{- if $sink.enabled }}
sink-{{ $name }}: {kind: StatefulSet, args: [sink, {{ $name }}], replicas: {{ $sink.replicas }}, group: {{ printf "%s.sink.%s" $group $name | quote }}, resources: {{ toJson $sink.resources }}}
{{- end }}
{{- end }}
{{- range $name, $sync := .Values.sync }}
{{- if $sync.enabled }}
sync-{{ $name }}: {kind: StatefulSet, args: [sync, {{ $name }}], replicas: 1, resources: {{ toJson $sync.resources }}}
{{- end }}
{{- end }}
{{- if .Values.poll.enabled }}
poll: {kind: Deployment, args: [poll], replicas: 1, resources: {{ toJson .Values.poll.resources }}}
{{- end }}
{{- if .Values.remediation.enabled }}
remediate: {kind: StatefulSet, args: [run, remediate], replicas: {{ .Values.remediation.remediate.replicas }}, resources: {{ toJson .Values.remediation.remediate.resources }}}
execute: {kind: StatefulSet, args: [run, execute], replicas: 1, resources: {{ toJson .Values.remediation.execute.resources }}, sealed: true, extraSecret: {{ include "prismaflow.cloudSecretName" . | quote }}}
{{- end }}
{{- end -}}

{{/* The Secret with the executor's cloud credentials: required when remediation is on, unless demo. */}}
{{- define "prismaflow.cloudSecretName" -}}
{{- if .Values.demo -}}
{{- .Values.remediation.execute.cloudCredentialsSecret -}}
{{- else -}}
{{- required "remediation.execute.cloudCredentialsSecret is required with remediation.enabled unless demo: true (a Secret with prismaflow_aws_access_key_id, prismaflow_aws_secret_access_key, prismaflow_aws_session_token)" .Values.remediation.execute.cloudCredentialsSecret -}}
{{- end -}}
{{- end -}}

{{/* Pod spec shared by every workload: (dict "root" $ "name" "core" "w" $workload) */}}
{{- define "prismaflow.podSpec" -}}
{{- $root := .root -}}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets: {{ toYaml . | nindent 2 }}
{{- end }}
automountServiceAccountToken: false
{{- if .sealed }}
enableServiceLinks: false
{{- end }}
terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
securityContext: {{ toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.nodeSelector }}
nodeSelector: {{ toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations: {{ toYaml . | nindent 2 }}
{{- end }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels: {{ include "prismaflow.selectorLabels" (dict "root" $root "component" .name) | nindent 14 }}
containers:
  - name: {{ .name }}
    image: {{ printf "%s:%s" $root.Values.image.repository (default $root.Chart.AppVersion $root.Values.image.tag) | quote }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    args: {{ toJson .args }}
    envFrom:
      - configMapRef:
          name: {{ include "prismaflow.fullname" $root }}-config
    env:
      - name: PRISMAFLOW_WORKER_INSTANCE_ID
        valueFrom:
          fieldRef:
            fieldPath: metadata.name
    {{- with .extraEnv }}
    {{- toYaml . | nindent 6 }}
    {{- end }}
    ports:
      - name: {{ .portName | default "metrics" }}
        containerPort: {{ .port | default $root.Values.metricsPort }}
        protocol: TCP
    {{- if .probes }}
    {{- toYaml .probes | nindent 4 }}
    {{- end }}
    resources: {{ toYaml (default $root.Values.resources .resources) | nindent 6 }}
    securityContext: {{ toYaml $root.Values.securityContext | nindent 6 }}
    volumeMounts:
      - {name: {{ .homeClaim | default "home" }}, mountPath: /var/lib/prismaflow}
      - {name: tmp, mountPath: /tmp}
      {{- if include "prismaflow.secretName" $root }}
      - {name: secrets, mountPath: /var/run/secrets/prismaflow, readOnly: true}
      {{- end }}
volumes:
  {{- if not .homeClaim }}
  - name: home
    emptyDir: {sizeLimit: 512Mi}
  {{- end }}
  - name: tmp
    emptyDir: {sizeLimit: 256Mi}
  {{- with include "prismaflow.secretName" $root }}
  {{- if $.extraSecret }}
  {{- /* one secrets folder (PRISMAFLOW_SECRETS_DIR) holding both Secrets' keys */}}
  - name: secrets
    projected:
      sources:
        - secret: {name: {{ . }}, optional: false}
        - secret: {name: {{ $.extraSecret }}, optional: false}
  {{- else }}
  - name: secrets
    secret:
      secretName: {{ . }}
      optional: false
  {{- end }}
  {{- end }}
{{- end -}}

{{/* Liveness (/healthz: the loop turns) and readiness (/readyz: broker, group, state, sink target). */}}
{{- define "prismaflow.workerProbes" -}}
livenessProbe:
  httpGet: {path: /healthz, port: metrics}
  initialDelaySeconds: 30
  periodSeconds: 15
  timeoutSeconds: 5
  failureThreshold: 4
readinessProbe:
  httpGet: {path: /readyz, port: metrics}
  periodSeconds: 10
  timeoutSeconds: 8
  failureThreshold: 3
{{- end -}}

{{- define "prismaflow.podAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
{{- end -}}
