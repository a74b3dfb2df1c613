/**
 * `kubectl kustomize` (kubectl v1.32 embeds kustomize) for tests: renders a
 * kustomization directory into manifests.
 *
 * @module
 */

import yaml from "js-yaml";
import type { Manifest } from "./chart.ts";

/** The manifests `kubectl kustomize DIR` prints; throws with kubectl's message on failure. */
export async function kustomize(dir: string | URL): Promise<Manifest[]> {
  const path = dir instanceof URL ? dir.pathname : dir;
  const out = await new Deno.Command("kubectl", {
    args: ["kustomize", path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  if (!out.success) throw new Error(`kubectl kustomize ${path} failed: ${text(out.stderr)}`);
  return yaml.loadAll(text(out.stdout)).filter((doc): doc is Manifest =>
    doc !== null && typeof doc === "object"
  );
}
