/**
 * Kubernetes mode of `wormhole server` and `wormhole client`: the flags, and
 * starting and stopping the proxy Service controller (server) or the
 * annotated Service source (client). See docs/kubernetes.md.
 *
 * kubernetes-fluent-client is loaded only when `--kubernetes` is given.
 *
 * @module
 */

import { UsageError } from "./errors.ts";
import { type Command, InvalidArgumentError } from "commander";
import type { AppSpec, OfferSpec } from "../protocol/mod.ts";
import {
  AnnotatedServiceSource,
  DEFAULT_LEASE_TIMINGS,
  type Ha,
  type KubeApi,
  KubeServiceSink,
  leaseTimingsProblem,
  loadKubeApi,
  parseLabels,
  ProxyServiceController,
  Reflector,
  SERVICES,
  startHa,
  type UpstreamMode,
} from "../k8s/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { PortRange, ServerObserver } from "../server/mod.ts";
import { flag } from "./options.ts";
import { oneOf, parseCount, parseDuration } from "./parse.ts";

/** App listener ports in Kubernetes mode, so that targetPorts stay stable. */
export const KUBERNETES_PORT_RANGE: PortRange = { from: 30000, to: 30499 };

const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const DOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

function parseNamespace(value: string): string {
  const ns = value.trim();
  if (!DNS_LABEL.test(ns)) throw new InvalidArgumentError(`"${ns}" is not a namespace name.`);
  return ns;
}

function parseNamespaces(value: string): string[] {
  const list = value.split(",").map((s) => s.trim()).filter(Boolean).map(parseNamespace);
  if (list.length === 0) throw new InvalidArgumentError("Expected namespaces, e.g. a,b.");
  return [...new Set(list)];
}

function parseLabelList(value: string): Record<string, string> {
  try {
    return parseLabels(value);
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}.`);
  }
}

function parseDomain(value: string): string {
  const domain = value.trim().toLowerCase().replace(/\.$/, "");
  if (!DOMAIN.test(domain)) throw new InvalidArgumentError(`"${value}" is not a DNS domain.`);
  return domain;
}

/** Values of the server's Kubernetes flags. */
export interface KubernetesServerFlags extends ServiceWatchFlags, ProxyServiceFlags {
  /** `--kubernetes`. */
  kubernetes?: boolean;
  /** `--ha`. */
  ha?: boolean;
  /** `--replica-name`; default `POD_NAME`, then the host name. */
  replicaName?: string;
  /** `--advertise-address`; default `POD_IP`. */
  advertiseAddress?: string;
  /** `--lease-duration` in ms. */
  leaseDuration: number;
  /** `--lease-renew-deadline` in ms. */
  leaseRenewDeadline: number;
  /** `--lease-retry-period` in ms. */
  leaseRetryPeriod: number;
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** An EndpointSlice address: IPv4 or IPv6 (no names: the slices are of type IPv4/IPv6). */
function parseAddress(value: string): string {
  const address = value.trim();
  if (IPV4.test(address)) return address;
  try {
    if (address.includes(":") && new URL(`http://[${address}]/`).hostname) return address;
  } catch {
    // Reported below.
  }
  throw new InvalidArgumentError(`"${value}" is not an IPv4 or IPv6 address.`);
}

function parseReplicaName(value: string): string {
  const name = value.trim();
  if (!DOMAIN.test(name) || name.length > 253) {
    throw new InvalidArgumentError(`"${value}" is not a pod name (a DNS subdomain).`);
  }
  return name;
}

/**
 * Adds the server's Kubernetes flags. With `--kubernetes`, app listeners
 * bind all interfaces and use ports 30000-30499 unless `--listen-host` or
 * `--port-range` (or their variables) say otherwise.
 */
export function kubernetesServerFlags(command: Command): Command {
  flag(command, "--kubernetes", "create a proxy Service per exposed app (docs/kubernetes.md)");
  proxyServiceFlags(command, "server");
  flag(
    command,
    "--ha",
    "one of several replicas: EndpointSlices and a leader (docs/kubernetes.md)",
  );
  flag(command, "--replica-name <name>", "this replica's identity under --ha", {
    parse: parseReplicaName,
    defaultText: "$POD_NAME, else the host name",
  });
  flag(
    command,
    "--advertise-address <ip>",
    "address other pods reach this replica's app listeners on",
    {
      parse: parseAddress,
      defaultText: "$POD_IP",
    },
  );
  flag(command, "--lease-duration <duration>", "--ha: how long a leader's claim lasts unrenewed", {
    parse: parseDuration,
    default: DEFAULT_LEASE_TIMINGS.durationMs,
    defaultText: "15s",
  });
  flag(
    command,
    "--lease-renew-deadline <duration>",
    "--ha: the leader steps down after failing to renew this long",
    {
      parse: parseDuration,
      default: DEFAULT_LEASE_TIMINGS.renewDeadlineMs,
      defaultText: "10s",
    },
  );
  flag(
    command,
    "--lease-retry-period <duration>",
    "--ha: how often replicas try the leader Lease",
    {
      parse: parseDuration,
      default: DEFAULT_LEASE_TIMINGS.retryPeriodMs,
      defaultText: "2s",
    },
  );
  serviceWatchFlags(command, "--kubernetes-namespace");
  command.hook("preAction", (self) => {
    // Like --network-policies, --ha means nothing without --kubernetes.
    if (!self.getOptionValue("kubernetes")) return;
    if (self.getOptionValue("ha")) checkHa(self);
    // Checked before anything runs (no state directory or key is created for nothing).
    if (!self.getOptionValue("kubernetesLabels")) throw missingLabels();
    if (self.getOptionValueSource("listenHost") === "default") {
      self.setOptionValueWithSource("listenHost", "0.0.0.0", "default");
    }
    if (self.getOptionValue("portRange") === undefined) {
      self.setOptionValueWithSource("portRange", { ...KUBERNETES_PORT_RANGE }, "default");
    }
  });
  return command;
}

/**
 * Adds the flags of proxy Services, which the server writes for clients'
 * apps and a client for the apps the server offers it: their namespace,
 * the labels of the pod they select, NetworkPolicies and the grace period.
 */
export function proxyServiceFlags(command: Command, role: "server" | "client"): void {
  flag(
    command,
    "--kubernetes-namespace <ns>",
    "namespace of the proxy Services and the state Secret (default: the pod's)",
    {
      parse: parseNamespace,
    },
  );
  flag(
    command,
    "--kubernetes-labels <k=v,...>",
    `labels of the ${role} pod, which proxy Services select`,
    {
      parse: parseLabelList,
    },
  );
  flag(command, "--network-policies", "also create a NetworkPolicy per proxy Service");
  flag(command, "--unexpose-grace <duration>", "how long a gone app keeps its proxy Service", {
    parse: parseDuration,
    default: 10_000,
    defaultText: "10s",
  });
}

/**
 * Adds the flags of watching annotated Services (a client's edge Services,
 * the server's central ones): which namespaces (by default all, or the one
 * `defaultFrom` names), how upstreams are reached, and when to give up.
 */
export function serviceWatchFlags(command: Command, defaultFrom = "all"): void {
  flag(
    command,
    "--kubernetes-namespaces <a,b>",
    `only watch these namespaces for annotated Services (default: ${defaultFrom})`,
    { parse: parseNamespaces },
  );
  flag(command, "--kubernetes-upstream <mode>", "reach Services by dns name or cluster-ip", {
    parse: oneOf(["dns", "cluster-ip"] as const),
    default: "dns",
  });
  flag(command, "--cluster-domain <domain>", "cluster DNS domain for --kubernetes-upstream dns", {
    parse: parseDomain,
    default: "cluster.local",
  });
  flag(command, "--kubernetes-failure-limit <n>", "exit after this many watch failures in a row", {
    parse: parseCount(1, 1000),
    default: 5,
  });
  flag(command, "--kubernetes-failure-window <duration>", "...spanning at least this long", {
    parse: parseDuration,
    default: 30_000,
    defaultText: "30s",
  });
}

/** `--ha` needs the shared state and sound timings; checked before anything runs. */
function checkHa(command: Command): void {
  if (command.getOptionValue("state") !== "kubernetes") {
    throw new UsageError(
      "--ha needs --state kubernetes: the replicas share keys, approvals and ports through it",
    );
  }
  const problem = leaseTimingsProblem({
    durationMs: command.getOptionValue("leaseDuration"),
    renewDeadlineMs: command.getOptionValue("leaseRenewDeadline"),
    retryPeriodMs: command.getOptionValue("leaseRetryPeriod"),
  });
  if (problem) throw new UsageError(problem);
  const address = command.getOptionValue("advertiseAddress") ?? Deno.env.get("POD_IP");
  if (!address) {
    throw new UsageError(
      "--ha needs --advertise-address (or the POD_IP variable, from the downward API)",
    );
  }
  try {
    command.setOptionValueWithSource("advertiseAddress", parseAddress(address), "env");
  } catch (error) {
    throw new UsageError(`POD_IP: ${(error as Error).message}`);
  }
  if (!command.getOptionValue("replicaName")) {
    const name = Deno.env.get("POD_NAME") || Deno.hostname().toLowerCase();
    try {
      command.setOptionValueWithSource("replicaName", parseReplicaName(name), "env");
    } catch (error) {
      throw new UsageError(`--ha needs --replica-name: ${(error as Error).message}`);
    }
  }
}

/** Values of {@linkcode proxyServiceFlags}. */
export interface ProxyServiceFlags {
  /** `--kubernetes-namespace`. */
  kubernetesNamespace?: string;
  /** `--kubernetes-labels`, parsed. */
  kubernetesLabels?: Record<string, string>;
  /** `--network-policies`. */
  networkPolicies?: boolean;
  /** `--unexpose-grace` in ms. */
  unexposeGrace: number;
}

/**
 * Starts a proxy Service controller (the server's for clients' apps, a
 * client's for the apps offered to it) writing into `--kubernetes-namespace`
 * (default: the pod's), selecting the pod by `selector`.
 *
 * @throws {UsageError} outside a pod without `--kubernetes-namespace`.
 */
export async function startProxyServices(
  flags: ProxyServiceFlags,
  selector: Record<string, string>,
  log: Logger,
  replica?: { name: string; address: string },
): Promise<
  { controller: ProxyServiceController; namespace: string; api: KubeApi; sink: KubeServiceSink }
> {
  const namespace = flags.kubernetesNamespace ?? await podNamespace();
  if (!namespace) {
    throw new UsageError(
      "--kubernetes needs --kubernetes-namespace (outside a pod there is no default)",
    );
  }
  const api = await loadKubeApi();
  const sink = new KubeServiceSink(api, namespace);
  const controller = new ProxyServiceController({
    sink,
    selector,
    networkPolicies: flags.networkPolicies,
    graceMs: flags.unexposeGrace,
    logger: log.with({ component: "kubernetes" }),
    replica,
  });
  controller.start();
  return { controller, namespace, api, sink };
}

/** The server's Kubernetes mode, running. */
export interface ServerKubernetes {
  /** `--ha`: leadership, for the metrics; absent without `--ha`. */
  ha?: Ha;
  /** Observers to pass to `WormholeServer.start`. */
  observers: ServerObserver[];
  /** The controller (its `endpoint()` gives `<service>.<namespace>:<port>`). */
  controller: ProxyServiceController;
  /** The watch of central Services to offer; it gives up like a client's. */
  offers: ServiceWatch | null;
  /** Stops; proxy Services stay (the next start collects orphans). */
  close(): Promise<void>;
}

function missingLabels(): UsageError {
  return new UsageError(
    "--kubernetes needs --kubernetes-labels: the server pod's labels, which proxy Services select",
  );
}

async function podNamespace(): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile(SERVICE_ACCOUNT_NAMESPACE)).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Starts the proxy Service controller when `--kubernetes` is given; `null` otherwise. */
export async function startServerKubernetes(
  flags: KubernetesServerFlags,
  log: Logger,
  onOffers?: (offers: OfferSpec[]) => void,
): Promise<ServerKubernetes | null> {
  if (!flags.kubernetes) return null;
  if (!flags.kubernetesLabels) throw missingLabels();
  const replica = flags.ha && flags.replicaName && flags.advertiseAddress
    ? { name: flags.replicaName, address: flags.advertiseAddress }
    : undefined;
  const { controller, namespace, api, sink } = await startProxyServices(
    flags,
    flags.kubernetesLabels,
    log,
    replica,
  );
  const logger = log.with({ component: "kubernetes" });
  const ha = replica
    ? await startHa({
      api,
      sink,
      replica: replica.name,
      graceMs: flags.unexposeGrace,
      networkPolicies: flags.networkPolicies,
      durationMs: flags.leaseDuration,
      renewDeadlineMs: flags.leaseRenewDeadline,
      retryPeriodMs: flags.leaseRetryPeriod,
      logger: logger.with({ replica: replica.name }),
      onRejoin: () => controller.reassert(),
    })
    : undefined;
  log.info("kubernetes: exposing apps as Services", {
    namespace,
    labels: flags.kubernetesLabels,
    networkPolicies: Boolean(flags.networkPolicies),
    ...(replica ? { replica: replica.name, advertiseAddress: replica.address } : {}),
  });
  const offers = onOffers
    ? await watchAnnotatedServices(flags, log, {
      onApps: onOffers,
      offers: true,
      namespaces: [namespace],
    })
    : null;
  if (offers) {
    log.info("kubernetes: offering Services annotated exposed and peers", {
      namespaces: flags.kubernetesNamespaces ?? [namespace],
      upstream: flags.kubernetesUpstream,
    });
  }
  return {
    observers: [controller],
    controller,
    ha,
    offers,
    async close() {
      await offers?.close();
      await controller.close();
      await ha?.close();
    },
  };
}

/** Values of the client's Kubernetes flags. */
export interface KubernetesClientFlags extends ServiceWatchFlags {
  /** `--kubernetes`. */
  kubernetes?: boolean;
}

/** Values of the flags of watching annotated Services ({@linkcode serviceWatchFlags}). */
export interface ServiceWatchFlags {
  /** `--kubernetes-namespaces`; the default namespaces when absent. */
  kubernetesNamespaces?: string[];
  /** `--kubernetes-upstream`. */
  kubernetesUpstream: UpstreamMode;
  /** `--cluster-domain`. */
  clusterDomain: string;
  /** `--kubernetes-failure-limit`. */
  kubernetesFailureLimit: number;
  /** `--kubernetes-failure-window` in ms. */
  kubernetesFailureWindow: number;
}

/** Adds the client's Kubernetes flags. */
export function kubernetesClientFlags(command: Command): Command {
  flag(command, "--kubernetes", "expose this cluster's annotated Services (docs/kubernetes.md)");
  serviceWatchFlags(command);
  return command;
}

/** The client's Kubernetes mode, running: its watch of edge Services. */
export type ClientKubernetes = ServiceWatch;

/** A watch of annotated Services, running. */
export interface ServiceWatch {
  /** Resolves when watching stopped: closed, or gave up ({@linkcode ServiceWatch.failure}). */
  ended: Promise<void>;
  /** Why watching gave up, if it did; the process should then exit non-zero. */
  readonly failure: Error | null;
  /** Stops watching. */
  close(): Promise<void>;
}

/**
 * Starts watching annotated Services when `--kubernetes` is given (`null`
 * otherwise); `onApps` gets every new app list.
 */
export async function startClientKubernetes(
  flags: KubernetesClientFlags,
  log: Logger,
  onApps: (apps: AppSpec[]) => void,
): Promise<ClientKubernetes | null> {
  if (!flags.kubernetes) return null;
  const watch = await watchAnnotatedServices(flags, log, { onApps });
  log.info("kubernetes: exposing annotated Services", {
    namespaces: flags.kubernetesNamespaces ?? "all",
    upstream: flags.kubernetesUpstream,
  });
  return watch;
}

/**
 * Watches the Services annotated `exposed` (by `flags`: namespaces, upstream
 * mode, failure policy) and hands every new app list to `onApps`; with
 * `offers`, central Services, which need the `peers` annotation.
 * `namespaces` replaces the flag's default of all namespaces.
 */
export async function watchAnnotatedServices(
  flags: ServiceWatchFlags,
  log: Logger,
  options: { onApps(apps: OfferSpec[]): void; offers?: boolean; namespaces?: string[] },
): Promise<ServiceWatch> {
  const api = await loadKubeApi();
  const logger = log.with({ component: "kubernetes" });
  const policy = {
    maxFailures: flags.kubernetesFailureLimit,
    failureWindowMs: flags.kubernetesFailureWindow,
  };
  const feeds = (flags.kubernetesNamespaces ?? options.namespaces ?? [undefined]).map((
    namespace,
  ) => new Reflector(api, SERVICES, { namespace, policy, logger }));
  const source = new AnnotatedServiceSource(feeds, {
    upstream: flags.kubernetesUpstream,
    clusterDomain: flags.clusterDomain,
    offers: options.offers,
    logger,
  });
  source.start(options.onApps);
  let failure: Error | null = null;
  const ended = source.done.catch((error: Error) => {
    failure = error;
    logger.error("watching Services gave up: exiting so that the pod is restarted", { error });
  });
  return {
    ended,
    get failure() {
      return failure;
    },
    close: () => source.close(),
  };
}
