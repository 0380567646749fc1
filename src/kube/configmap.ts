// The ConfigMap object (core/v1) as a client reads and writes it. Where the
// platform plane's live: platformPath(CONFIG_MAPS, …) in src/controller/layout.ts.
import type { KubeObject } from "./informer.js";

export interface ConfigMap extends KubeObject {
  readonly data?: Readonly<Record<string, string>>;
  /** Base64, as the API serves []byte. */
  readonly binaryData?: Readonly<Record<string, string>>;
  readonly immutable?: boolean;
}
