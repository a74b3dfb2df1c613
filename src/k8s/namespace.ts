/**
 * Which namespace a process belongs to when no flag says so, in the order
 * an operator expects: `POD_NAMESPACE` (the downward API), the service
 * account's namespace file (every pod has it), the namespace of the current
 * kubeconfig context (a developer's machine), else `default`.
 *
 * @module
 */

/** Where pods find their namespace. */
export const SERVICE_ACCOUNT_NAMESPACE_FILE =
  "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/** A namespace and what it came from, for logs. */
export interface ResolvedNamespace {
  /** The namespace. */
  namespace: string;
  /** `flag`, `POD_NAMESPACE`, `service account`, `kubeconfig` or `default`. */
  source: string;
}

/** Where to look; tests point these elsewhere. */
export interface NamespaceSources {
  /** The service account's namespace file. */
  serviceAccountFile?: string;
  /** Environment lookup (default `Deno.env.get`). */
  env?: (name: string) => string | undefined;
}

/** Resolves the namespace: `flag` when given, else see the module documentation. */
export async function resolveNamespace(
  flag: string | undefined,
  sources: NamespaceSources = {},
): Promise<ResolvedNamespace> {
  if (flag) return { namespace: flag, source: "flag" };
  const env = sources.env ?? ((name: string) => Deno.env.get(name));
  const pod = env("POD_NAMESPACE")?.trim();
  if (pod) return { namespace: pod, source: "POD_NAMESPACE" };
  const file = await readText(sources.serviceAccountFile ?? SERVICE_ACCOUNT_NAMESPACE_FILE);
  if (file?.trim()) return { namespace: file.trim(), source: "service account" };
  const context = await kubeconfigNamespace(env);
  if (context) return { namespace: context, source: "kubeconfig" };
  return { namespace: "default", source: "default" };
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/**
 * The namespace of the current context, merged across the files of
 * `KUBECONFIG` as kubectl does (the first file that sets a value wins), or
 * `~/.kube/config`. An unreadable kubeconfig gives none: the API client
 * reports it when it connects.
 */
async function kubeconfigNamespace(
  env: (name: string) => string | undefined,
): Promise<string | undefined> {
  const list = env("KUBECONFIG");
  const home = env("HOME");
  const files = list ? list.split(":").filter(Boolean) : home ? [`${home}/.kube/config`] : [];
  const yaml = await import("js-yaml");
  let current: string | undefined;
  const contexts = new Map<string, { namespace?: unknown }>();
  for (const file of files) {
    const text = await readText(file);
    if (text === undefined) continue;
    let config: { "current-context"?: unknown; contexts?: unknown };
    try {
      config = (yaml.load(text) ?? {}) as typeof config;
    } catch {
      continue;
    }
    if (!current && typeof config["current-context"] === "string") {
      current = config["current-context"];
    }
    for (const entry of Array.isArray(config.contexts) ? config.contexts : []) {
      const { name, context } = (entry ?? {}) as { name?: unknown; context?: unknown };
      if (typeof name === "string" && !contexts.has(name) && context) {
        contexts.set(name, context as { namespace?: unknown });
      }
    }
  }
  const namespace = current ? contexts.get(current)?.namespace : undefined;
  return typeof namespace === "string" && namespace ? namespace : undefined;
}
