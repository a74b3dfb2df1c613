/**
 * Writes a kubeconfig file that points kubectl and client libraries at the fake server.
 *
 * @module
 */

/** What the kubeconfig names and contains. */
export interface KubeconfigSpec {
  /** The server URL, e.g. `http://127.0.0.1:12345`. */
  server: string;
  /** The bearer token of the user (the fake server accepts any or none). */
  token: string;
  /** Name of the cluster, user and context. */
  name: string;
  /** Default namespace of the context. */
  namespace: string;
}

/**
 * Renders a kubeconfig (YAML; every string is a JSON-quoted scalar, which YAML reads as-is)
 * with one cluster, one token user and one current context. The cluster sets
 * `insecure-skip-tls-verify: true` although the server is plain http: @kubernetes/client-node
 * (under kubernetes-fluent-client) refuses `http://` servers without it; kubectl ignores it.
 *
 * @param spec Server, token and names.
 * @returns The file contents.
 */
export function renderKubeconfig(spec: KubeconfigSpec): string {
  const q = JSON.stringify;
  return [
    "apiVersion: v1",
    "kind: Config",
    "preferences: {}",
    "clusters:",
    `- name: ${q(spec.name)}`,
    "  cluster:",
    `    server: ${q(spec.server)}`,
    // @kubernetes/client-node refuses http:// servers unless this is set.
    "    insecure-skip-tls-verify: true",
    "users:",
    `- name: ${q(spec.name)}`,
    "  user:",
    `    token: ${q(spec.token)}`,
    "contexts:",
    `- name: ${q(spec.name)}`,
    "  context:",
    `    cluster: ${q(spec.name)}`,
    `    user: ${q(spec.name)}`,
    `    namespace: ${q(spec.namespace)}`,
    `current-context: ${q(spec.name)}`,
    "",
  ].join("\n");
}
