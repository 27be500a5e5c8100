{{/*
The Kubernetes work pool's base job template (Prefect's templating: `{{ var }}` placeholders filled from
`variables`). It mirrors deploy/work-pools/kubernetes.json (flows/work_pools.py): the same declared
variables `gpu_limit` (→ the container's resources.limits["nvidia.com/gpu"]), `node_selector`,
`tolerations`, `affinity`, `image`, `cpu_*`/`memory_*` at the same places, plus what the chart adds:
the COMMONS_* settings through envFrom (and of the Secret only the database URL and S3 keys: a flow-run
container never holds COMMONS_SECRET_KEY), non-root security contexts, a writable /tmp and the chart's
defaults (namespace, worker image, gpu.*). A variable left unset is removed from the manifest.
*/}}
{{- define "model-commons.baseJobTemplate" -}}
{{- $jd := .Values.workPool.jobDefaults }}
job_configuration:
  command: '{{ "{{ command }}" }}'
  env: '{{ "{{ env }}" }}'
  labels: '{{ "{{ labels }}" }}'
  name: '{{ "{{ name }}" }}'
  namespace: '{{ "{{ namespace }}" }}'
  job_watch_timeout_seconds: '{{ "{{ job_watch_timeout_seconds }}" }}'
  pod_watch_timeout_seconds: '{{ "{{ pod_watch_timeout_seconds }}" }}'
  stream_output: '{{ "{{ stream_output }}" }}'
  job_manifest:
    apiVersion: batch/v1
    kind: Job
    metadata:
      generateName: '{{ "{{ name }}" }}-'
      labels: '{{ "{{ labels }}" }}'
      annotations: '{{ "{{ annotations }}" }}'
      namespace: '{{ "{{ namespace }}" }}'
    spec:
      backoffLimit: '{{ "{{ backoff_limit }}" }}'
      ttlSecondsAfterFinished: '{{ "{{ finished_job_ttl }}" }}'
      completions: 1
      parallelism: 1
      template:
        spec:
          restartPolicy: Never
          serviceAccountName: '{{ "{{ service_account_name }}" }}'
          automountServiceAccountToken: false
          securityContext:
            {{- include "model-commons.podSecurityContext" (dict "ctx" $) | nindent 12 }}
          {{- with .Values.imagePullSecrets }}
          imagePullSecrets:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          nodeSelector: '{{ "{{ node_selector }}" }}'
          tolerations: '{{ "{{ tolerations }}" }}'
          affinity: '{{ "{{ affinity }}" }}'
          containers:
            - name: prefect-job
              image: '{{ "{{ image }}" }}'
              imagePullPolicy: '{{ "{{ image_pull_policy }}" }}'
              args: '{{ "{{ command }}" }}'
              # The worker puts the run's own variables (`env`) before these (prefect-kubernetes does so
              # when the container's env is a list): the Secret's database URL and S3 keys, never the JWT key.
              env:
                {{- include "model-commons.workerSecretEnv" . | nindent 16 }}
              envFrom:
                {{- include "model-commons.workerEnvFrom" . | nindent 16 }}
              resources:
                requests:
                  cpu: '{{ "{{ cpu_request }}" }}'
                  memory: '{{ "{{ memory_request }}" }}'
                limits:
                  cpu: '{{ "{{ cpu_limit }}" }}'
                  memory: '{{ "{{ memory_limit }}" }}'
                  nvidia.com/gpu: '{{ "{{ gpu_limit }}" }}'
              securityContext:
                {{- include "model-commons.containerSecurityContext" (dict "ctx" $) | nindent 16 }}
              volumeMounts:
                - name: tmp
                  mountPath: /tmp
                - name: data
                  mountPath: /data
                - name: shm
                  mountPath: /dev/shm
          volumes:
            - name: tmp
              emptyDir: {}
            - name: data
              emptyDir: {}
            - name: shm
              emptyDir:
                medium: Memory
                sizeLimit: 2Gi
variables:
  type: object
  description: Job variables of a Model Commons flow run on Kubernetes (chart defaults filled in).
  properties:
    image:
      title: Image
      description: Image of the flow-run container (a version's execution spec may override it).
      type: string
      default: {{ include "model-commons.image" .Values.workerImage | quote }}
    image_pull_policy:
      title: Image Pull Policy
      type: string
      enum: [IfNotPresent, Always, Never]
      default: {{ .Values.workerImage.pullPolicy | quote }}
    namespace:
      title: Namespace
      type: string
      default: {{ .Release.Namespace | quote }}
    name:
      title: Name
      anyOf: [{type: string}, {type: "null"}]
      default: null
    command:
      title: Command
      anyOf: [{type: string}, {type: "null"}]
      default: null
    env:
      title: Environment Variables
      type: object
      additionalProperties:
        anyOf: [{type: string}, {type: "null"}]
    labels:
      title: Labels
      type: object
      additionalProperties: {type: string}
    annotations:
      title: Annotations
      type: object
      additionalProperties: {type: string}
    service_account_name:
      title: Service Account Name
      anyOf: [{type: string}, {type: "null"}]
      default: {{ printf "%s-flow-run" (include "model-commons.fullname" .) | quote }}
    backoff_limit:
      title: Backoff Limit
      type: integer
      minimum: 0
      default: 0
    finished_job_ttl:
      title: Finished Job TTL
      anyOf: [{type: integer}, {type: "null"}]
      default: {{ $jd.finishedJobTtl }}
    job_watch_timeout_seconds:
      title: Job Watch Timeout Seconds
      anyOf: [{type: integer}, {type: "null"}]
      default: null
    pod_watch_timeout_seconds:
      title: Pod Watch Timeout Seconds
      type: integer
      default: {{ $jd.podWatchTimeoutSeconds }}
    stream_output:
      title: Stream Output
      type: boolean
      default: true
    cpu_request:
      title: CPU Request
      anyOf: [{type: string}, {type: "null"}]
      {{- with $jd.cpuRequest }}
      default: {{ . | quote }}
      {{- end }}
    cpu_limit:
      title: CPU Limit
      anyOf: [{type: string}, {type: "null"}]
    memory_request:
      title: Memory Request
      anyOf: [{type: string}, {type: "null"}]
      {{- with $jd.memoryRequest }}
      default: {{ . | quote }}
      {{- end }}
    memory_limit:
      title: Memory Limit
      anyOf: [{type: string}, {type: "null"}]
      {{- with $jd.memoryLimit }}
      default: {{ . | quote }}
      {{- end }}
    gpu_limit:
      title: GPU limit
      description: Whole GPUs for the job's container, resources.limits["nvidia.com/gpu"] (NVIDIA device plugin).
      type: integer
      minimum: 0
      {{- if gt (int .Values.gpu.count) 0 }}
      default: {{ .Values.gpu.count }}
      {{- end }}
    node_selector:
      title: Node selector
      description: Labels a node must carry to run the job.
      type: object
      additionalProperties: {type: string}
      {{- with .Values.gpu.nodeSelector }}
      default: {{ toJson . }}
      {{- end }}
    tolerations:
      title: Tolerations
      description: Pod tolerations, e.g. for the taint nvidia.com/gpu=present:NoSchedule on GPU nodes.
      type: array
      items: {type: object}
      {{- with .Values.gpu.tolerations }}
      default: {{ toJson . }}
      {{- end }}
    affinity:
      title: Affinity
      description: Pod affinity; Model Commons sets a node affinity on nvidia.com/gpu.memory for a minimum GPU memory.
      type: object
      {{- with .Values.gpu.affinity }}
      default: {{ toJson . }}
      {{- end }}
{{- end }}
