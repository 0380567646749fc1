// The version of this build, read once from package.json.
import { readFileSync } from "node:fs";

function readVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
    version?: unknown;
  };
  return typeof manifest.version === "string" ? manifest.version : "0.0.0";
}

export const VERSION = readVersion();
