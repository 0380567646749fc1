// ExportPolicy (telemetry.miloapis.com/v1alpha1): the single definition from
// which come the TypeScript types, defaulting, validation, the CRD, the OpenAPI
// document and `explain`. Descriptions follow the published API reference.
import { Type, type Static } from "typebox";
import { DEFAULTS } from "./defaults.js";
import { ObjectMetaSchema } from "./objectmeta.js";

export {
  API_VERSION,
  CATEGORIES,
  GROUP,
  KIND,
  PLURAL,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
} from "./resource-names.js";

/** Upper bounds that keep one policy's cost predictable on the shared exporter. */
export const MAX_SOURCES = 20;
export const MAX_SINKS = 20;

const DNS_LABEL_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
const DURATION_PATTERN = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";

const stringEnum = <const T extends readonly string[]>(values: T, description: string) =>
  Type.Unsafe<T[number]>({ type: "string", enum: values, description });

const dnsLabel = (description: string) =>
  Type.String({
    description,
    minLength: 1,
    maxLength: 63,
    pattern: DNS_LABEL_PATTERN,
    "x-telex-format": "dns-label",
  });

const duration = (description: string, fallback: string) =>
  Type.String({
    description,
    pattern: DURATION_PATTERN,
    maxLength: 64,
    default: fallback,
    "x-telex-format": "duration",
  });

export const BatchSchema = Type.Object(
  {
    maxSize: Type.Integer({
      description: "Maximum number of telemetry entries per batch.",
      minimum: 1,
      maximum: 5000,
      default: DEFAULTS.batch.maxSize,
    }),
    timeout: duration(
      "Batch timeout before sending telemetry. Must be a duration (e.g. 5s).",
      DEFAULTS.batch.timeout,
    ),
  },
  {
    description:
      "Configures how telemetry data should be batched before sending to the sink. By default, the sink will batch telemetry data every 5 seconds or when the batch size reaches 500 entries, whichever comes first.",
    additionalProperties: false,
    default: { ...DEFAULTS.batch },
  },
);

export const RetrySchema = Type.Object(
  {
    backoffDuration: duration(
      "Backoff duration that should be used to backoff when retrying requests: the wait before the first retry, doubling with each further attempt (plus up to 20% jitter). It also sets the schedule on which a down sink probes its endpoint: the doubling continues past the last attempt, capped at 5 minutes.",
      DEFAULTS.retry.backoffDuration,
    ),
    maxAttempts: Type.Integer({
      description:
        "Maximum number of attempts of one request, the first included. It bounds how long one request is retried before the sink declares itself down: a down sink drops nothing, it keeps buffering its samples (bounded by the server's --max-backlog-age and its buffer size; beyond either the oldest samples are dropped and counted) and probes the endpoint until a request succeeds, then resumes from the oldest sample it kept.",
      minimum: 1,
      maximum: 10,
      default: DEFAULTS.retry.maxAttempts,
    }),
  },
  {
    description:
      "Configures the export policies' retry behavior when it fails to send requests to the sink's endpoint. Network errors, timeouts, 429 and 5xx are retried; other 4xx are not (the data is dropped as rejected or unauthorized). A sink whose endpoint stays down keeps its data only within the server's --max-backlog-age and buffer size.",
    additionalProperties: false,
    default: { ...DEFAULTS.retry },
  },
);

export const SecretReferenceSchema = Type.Object(
  {
    name: Type.String({
      description: "The name of the secret",
      minLength: 1,
      maxLength: 253,
      "x-telex-format": "dns-subdomain",
    }),
  },
  {
    description:
      "Configures which secret is used to retrieve the bearer token to add to the authorization header. Secret must be a `kubernetes.io/basic-auth` type.",
    additionalProperties: false,
  },
);

export const AuthenticationSchema = Type.Object(
  {
    basicAuth: Type.Optional(
      Type.Object(
        { secretRef: SecretReferenceSchema },
        {
          description: "Configures the sink to use basic auth to authenticate with the configured endpoint.",
          additionalProperties: false,
        },
      ),
    ),
  },
  {
    description: "Configures how the sink should authenticate with the HTTP endpoint.",
    additionalProperties: false,
  },
);

export const PrometheusRemoteWriteSchema = Type.Object(
  {
    endpoint: Type.String({
      description: "Configure an HTTP endpoint to use for publishing telemetry data.",
      minLength: 1,
      maxLength: 2048,
      pattern: "^https?://",
      "x-telex-format": "endpoint-url",
    }),
    authentication: Type.Optional(AuthenticationSchema),
    batch: BatchSchema,
    retry: RetrySchema,
  },
  {
    description:
      "Configures the export policy to publish telemetry using the Prometheus Remote Write protocol.",
    additionalProperties: false,
  },
);

export const SinkTargetSchema = Type.Object(
  {
    prometheusRemoteWrite: Type.Optional(PrometheusRemoteWriteSchema),
  },
  {
    description: "Configures the target of the telemetry sink.",
    additionalProperties: false,
    // Mirrors the check in validate.ts for API servers that only have the CRD.
    "x-kubernetes-validations": [
      {
        rule: "has(self.prometheusRemoteWrite)",
        message: "exactly one of prometheusRemoteWrite must be set",
      },
    ],
  },
);

/** The protocols a sink target can name; exactly one must be set. */
export const TARGET_PROTOCOLS = ["prometheusRemoteWrite"] as const;

export const SinkSchema = Type.Object(
  {
    name: dnsLabel("A name provided to the telemetry sink that's unique within the export policy."),
    sources: Type.Array(dnsLabel("The name of a source of this policy."), {
      description: "A list of sources that should be sent to the telemetry sink.",
      minItems: 1,
      maxItems: MAX_SOURCES,
      "x-kubernetes-list-type": "set",
    }),
    target: SinkTargetSchema,
  },
  {
    description:
      "Configures how telemetry data should be sent to a third-party platform. As of now there are no guarantees around delivery of telemetry data, especially if the sink's endpoint is unavailable.",
    additionalProperties: false,
  },
);

export const MetricsSourceSchema = Type.Object(
  {
    metricsql: Type.String({
      description:
        'The MetricSQL option allows to user to provide a metricsql query that can be used to select and filter metric data that should be published by the export policy. It must be a series selector, for example {service_name="networking.miloapis.com", resource_kind="Gateway"}. See: https://docs.victoriametrics.com/metricsql/',
      minLength: 1,
      maxLength: 4096,
      "x-telex-format": "metricsql",
    }),
  },
  {
    description:
      "Configures how the telemetry source should retrieve metric data from the Datum Cloud platform.",
    additionalProperties: false,
  },
);

export const SourceSchema = Type.Object(
  {
    name: dnsLabel(
      "A unique name given to the telemetry source within an export policy. Must be a valid DNS label.",
    ),
    metrics: MetricsSourceSchema,
  },
  {
    description: "Defines how the export policy should source telemetry data from resources on the platform.",
    additionalProperties: false,
  },
);

export const ExportPolicySpecSchema = Type.Object(
  {
    sources: Type.Array(SourceSchema, {
      description:
        "Defines how the export policy should source telemetry data to publish to the configured sinks. An export policy can define multiple telemetry sources. The export policy will **not** de-duplicate telemetry data that matches multiple sources.",
      minItems: 1,
      maxItems: MAX_SOURCES,
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
    }),
    sinks: Type.Array(SinkSchema, {
      description: "Configures how telemetry data should be sent to a third-party telemetry platforms.",
      minItems: 1,
      maxItems: MAX_SINKS,
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
    }),
  },
  {
    description:
      "Describes the expected state of the ExportPolicy's configuration. The control plane will constantly evaluate the current state of exporters that are deployed and ensure it matches the expected configuration. This field is required when configuring an export policy.",
    additionalProperties: false,
    // Mirrors the check in validate.ts for API servers that only have the CRD.
    "x-kubernetes-validations": [
      {
        rule: "self.sinks.all(sink, sink.sources.all(name, self.sources.exists(source, source.name == name)))",
        message: "every entry of a sink's sources must name a source in spec.sources",
      },
    ],
  },
);

export const ConditionSchema = Type.Object(
  {
    type: Type.String({
      description: "type of condition in CamelCase or in foo.example.com/CamelCase.",
      maxLength: 316,
    }),
    status: stringEnum(["True", "False", "Unknown"], "status of the condition, one of True, False, Unknown."),
    observedGeneration: Type.Optional(
      Type.Integer({
        description:
          "observedGeneration represents the .metadata.generation that the condition was set based upon. For instance, if .metadata.generation is currently 12, but the .status.conditions[x].observedGeneration is 9, the condition is out of date with respect to the current state of the instance.",
        minimum: 0,
        format: "int64",
      }),
    ),
    lastTransitionTime: Type.String({
      description:
        "lastTransitionTime is the last time the condition transitioned from one status to another. This should be when the underlying condition changed.  If that is not known, then using the time when the API field changed is acceptable.",
      format: "date-time",
    }),
    reason: Type.String({
      description:
        "reason contains a programmatic identifier indicating the reason for the condition's last transition. Producers of specific condition types may define expected values and meanings for this field, and whether the values are considered a guaranteed API. The value should be a CamelCase string. This field may not be empty.",
      minLength: 1,
      maxLength: 1024,
    }),
    message: Type.String({
      description:
        "message is a human readable message indicating details about the transition. This may be an empty string.",
      maxLength: 32768,
    }),
  },
  {
    description: "Condition contains details for one aspect of the current state of this API Resource.",
    additionalProperties: false,
  },
);

const conditionList = (description: string) =>
  Type.Array(ConditionSchema, {
    description,
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
  });

export const SinkStatusSchema = Type.Object(
  {
    name: Type.String({
      description: "The name of the corresponding sink configuration in the spec of the export policy.",
    }),
    conditions: Type.Optional(
      conditionList(
        'Provides status information on the current status of the sink. This can be used to determine whether a sink is configured correctly and is exporting telemetry data. Known condition types are: "Ready"',
      ),
    ),
  },
  {
    description:
      "SinkStatus provides status information on the current status of a sink. This can be used to determine whether a sink is configured correctly and is exporting telemetry data.",
    additionalProperties: false,
  },
);

export const ExportPolicyStatusSchema = Type.Object(
  {
    conditions: Type.Optional(
      conditionList(
        'Provides summary status information on the export policy as a whole. Review the sink status information for detailed information on each sink. Known condition types are: "Ready"',
      ),
    ),
    sinks: Type.Optional(
      Type.Array(SinkStatusSchema, {
        description: "Provides status information on each sink that's configured.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
      }),
    ),
  },
  {
    description:
      "Provides information on the current state of the export policy that was observed by the control plane. This will be continuously updated as the control plane monitors exporters.",
    additionalProperties: false,
  },
);

export const ExportPolicySchema = Type.Object(
  {
    apiVersion: Type.String({
      description:
        "APIVersion defines the versioned schema of this representation of an object. For an ExportPolicy it is telemetry.miloapis.com/v1alpha1.",
    }),
    kind: Type.String({
      description:
        "Kind is a string value representing the REST resource this object represents: ExportPolicy.",
    }),
    metadata: ObjectMetaSchema,
    spec: ExportPolicySpecSchema,
    status: Type.Optional(ExportPolicyStatusSchema),
  },
  {
    description: "ExportPolicy is the Schema for the export policy API.",
    additionalProperties: false,
  },
);

export type ObjectMeta = Static<typeof ObjectMetaSchema>;
export type BatchConfig = Static<typeof BatchSchema>;
export type RetryConfig = Static<typeof RetrySchema>;
export type SecretReference = Static<typeof SecretReferenceSchema>;
export type Authentication = Static<typeof AuthenticationSchema>;
export type PrometheusRemoteWriteTarget = Static<typeof PrometheusRemoteWriteSchema>;
export type SinkTarget = Static<typeof SinkTargetSchema>;
export type ExportPolicySink = Static<typeof SinkSchema>;
export type ExportPolicySource = Static<typeof SourceSchema>;
export type ExportPolicySpec = Static<typeof ExportPolicySpecSchema>;
export type Condition = Static<typeof ConditionSchema>;
export type SinkStatus = Static<typeof SinkStatusSchema>;
export type ExportPolicyStatus = Static<typeof ExportPolicyStatusSchema>;
/** An ExportPolicy after defaulting and validation. */
export type ExportPolicy = Static<typeof ExportPolicySchema>;
