// The yaml library, loaded on first use: it takes ~60 ms to load, which a
// `telex get` printing a table never needs (src/cli/main.ts).
import { createRequire } from "node:module";
import type * as YamlModule from "yaml";

let loaded: typeof YamlModule | undefined;

export function yaml(): typeof YamlModule {
  loaded ??= createRequire(import.meta.url)("yaml") as typeof YamlModule;
  return loaded;
}
