/**
 * A one-node test cluster that runs rendered workloads as a kubelet would,
 * with the fake API server (tests/fake_kube) as its control plane.
 *
 * - Pods: each in its own network namespace (see pod_network.ts) with a pod
 *   IP 127.0.0.x, and each container in its own mount namespace, as the
 *   pod's user, on a read-only root with its volumes (see sandbox.ts).
 * - Service account: token, ca.crt and namespace in
 *   /var/run/secrets/kubernetes.io/serviceaccount, and
 *   KUBERNETES_SERVICE_HOST/PORT, so that the program uses its in-cluster
 *   configuration: HTTPS to the `kubernetes` Service (127.0.1.1:443), whose
 *   TLS this cluster ends with a CA it makes (openssl) before the fake.
 * - Services: a ClusterIP 127.0.1.x each, names in each pod's /etc/hosts
 *   (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`), and a
 *   kube-proxy that routes a Service port to the `targetPort` of a Ready pod
 *   it selects (any selected pod with `publishNotReadyAddresses`): a pod that
 *   never passes its readiness probe gets no traffic, as in a real cluster.
 * - Readiness is what {@linkcode TestCluster.waitForProbe} observed: the
 *   kubelet's HTTP GET without a token, within the probe's bound.
 *
 * Everything the cluster starts is stopped by `close()`; it needs root
 * (namespaces, mounts, setpriv), `unshare`, `nsenter`, `setpriv`, `ip` and
 * `openssl`: {@linkcode clusterUnavailable} says when they are missing.
 *
 * @module
 */

import { startFakeKube } from "../../fake_kube/mod.ts";
import type { FakeKube } from "../../fake_kube/mod.ts";
import type { Manifest } from "../chart.ts";
import { WormholeProcess } from "../../harness/process.ts";
import { commandLine, securityOf } from "./container.ts";
import { ContainerConfigError, containerEnv, type PodFacts, type ServiceAddress } from "./env.ts";
import { Forwarder } from "./forward.ts";
import { readImage } from "./image.ts";
import { type ContainerPort, labelsMatch, startPodNetwork, TestPod } from "./pod.ts";
import {
  httpProbe,
  listeningSockets,
  type Probe,
  type ProbeResult,
  reachableOnPodIP,
  readinessBoundMs,
} from "./probe.ts";
import { authorized, forbidden, requestAttributes, type ServiceAccountRef } from "./rbac.ts";
import { sandboxScript } from "./sandbox.ts";
import { apiServerCertificate, buildBundle, containerRuntime } from "./setup.ts";
import { hostsFile, podVolumes } from "./volumes.ts";

export { TestPod } from "./pod.ts";

type Obj = Record<string, unknown>;

const API_IP = "127.0.1.1";

/** Why the test cluster cannot run here, or undefined when it can. */
export function clusterUnavailable(): string | undefined {
  if (Deno.uid() !== 0) return "the kubelet harness needs root (namespaces, mounts, setpriv)";
  for (const tool of ["unshare", "nsenter", "setpriv", "ip", "openssl"]) {
    const found = new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null" })
      .outputSync().success;
    if (!found) return `${tool} is not installed`;
  }
  return undefined;
}

/** A Service of the cluster, with its ClusterIP. */
export interface ClusterService extends ServiceAddress {
  selector: Record<string, string>;
  publishNotReadyAddresses: boolean;
  ports: { name?: string; port: number; targetPort: number | string; protocol?: string }[];
}

function randomName(length: number): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}

/** Options of {@linkcode TestCluster.start}. */
export interface ClusterOptions {
  /** The rendered manifests and the objects the user created before (e.g. a Secret). */
  objects: Manifest[];
}

/** See the module documentation. */
export class TestCluster implements AsyncDisposable {
  readonly pods: TestPod[] = [];
  readonly services: ClusterService[] = [];
  readonly #forwarders: Forwarder[] = [];
  /** Service-account tokens handed out, by bearer token. */
  readonly #accounts = new Map<string, ServiceAccountRef>();
  #nextPodIP = 10;
  #ca = "";

  private constructor(
    readonly dir: string,
    readonly kube: FakeKube,
    readonly objects: Manifest[],
    readonly bundle: string,
    readonly runtime: string,
  ) {}

  /** Starts the control plane and kube-proxy for `objects`. */
  static async start(options: ClusterOptions): Promise<TestCluster> {
    // Not under /tmp: containers get their own /tmp, and they must reach these sockets' paths.
    const dir = await Deno.makeTempDir({ dir: "/var/tmp", prefix: "wormhole-kubelet-" });
    await Deno.chmod(dir, 0o711);
    const namespaces = [
      ...new Set([
        "default",
        "kube-system",
        ...options.objects.map((o) => o.metadata.namespace ?? "default"),
      ]),
    ];
    const kube = await startFakeKube({ namespaces, bookmarkIntervalMs: 0 });
    let cluster: TestCluster | undefined;
    try {
      const [bundle, runtime] = await Promise.all([buildBundle(dir), containerRuntime(dir)]);
      cluster = new TestCluster(dir, kube, options.objects, bundle, runtime);
      await cluster.#startControlPlane();
      return cluster;
    } catch (error) {
      if (cluster) await cluster.close();
      else {
        await kube.close();
        await Deno.remove(dir, { recursive: true });
      }
      throw error;
    }
  }

  async #startControlPlane(): Promise<void> {
    const tls = await apiServerCertificate(this.dir, API_IP);
    this.#ca = tls.ca;
    const kubeUrl = new URL(this.kube.url);
    const front = new Forwarder(
      Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: tls.cert, key: tls.key }),
      () => Deno.connect({ hostname: kubeUrl.hostname, port: Number(kubeUrl.port) }),
    );
    this.#forwarders.push(front);
    this.services.push({
      name: "kubernetes",
      namespace: "default",
      clusterIP: API_IP,
      selector: {},
      publishNotReadyAddresses: false,
      ports: [{ name: "https", port: 443, targetPort: 443, protocol: "TCP" }],
    });
    let next = 2;
    for (const object of this.objects.filter((o) => o.kind === "Service")) {
      const spec = object.spec as Obj;
      if (spec.clusterIP === "None") continue;
      this.services.push({
        name: object.metadata.name,
        namespace: object.metadata.namespace ?? "default",
        clusterIP: `127.0.1.${next++}`,
        selector: (spec.selector ?? {}) as Record<string, string>,
        publishNotReadyAddresses: spec.publishNotReadyAddresses === true,
        ports: ((spec.ports ?? []) as Obj[]).map((port) => ({
          name: port.name as string | undefined,
          port: Number(port.port),
          targetPort: (port.targetPort ?? port.port) as number | string,
          protocol: port.protocol as string | undefined,
        })),
      });
    }
    // What `helm install` / `kubectl apply` creates, as far as the fake API server serves the kind.
    for (const object of this.objects) {
      try {
        this.kube.put(structuredClone(object) as never);
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
      }
    }
    for (const service of this.services) {
      for (const port of service.ports) {
        const path = this.#serviceSocket(service, port.port);
        const route = service.name === "kubernetes" && service.namespace === "default"
          ? () => Deno.connect({ hostname: "127.0.0.1", port: front.port })
          : () => this.#toEndpoint(service, port.targetPort);
        this.#forwarders.push(new Forwarder(Deno.listen({ transport: "unix", path }), route));
      }
    }
  }

  #serviceSocket(service: ClusterService, port: number): string {
    return `${this.dir}/svc-${service.clusterIP}-${port}.sock`;
  }

  /** The pods `service` sends traffic to now. */
  endpoints(service: ClusterService): TestPod[] {
    return this.pods.filter((pod) =>
      pod.facts.namespace === service.namespace &&
      labelsMatch(service.selector, pod.facts.labels) &&
      (pod.ready || service.publishNotReadyAddresses)
    );
  }

  async #toEndpoint(
    service: ClusterService,
    targetPort: number | string,
  ): Promise<Deno.Conn | null> {
    const [pod] = this.endpoints(service);
    if (!pod) return null;
    return await pod.dial(pod.resolvePort(targetPort));
  }

  /** The Service `name` in `namespace`. */
  service(namespace: string, name: string): ClusterService {
    const found = this.services.find((s) => s.namespace === namespace && s.name === name);
    if (!found) throw new Error(`no Service ${namespace}/${name}`);
    return found;
  }

  /** `kubectl port-forward service/NAME :PORT`: a 127.0.0.1 port of this process routed like the Service. */
  portForward(namespace: string, name: string, port: number): number {
    const service = this.service(namespace, name);
    const entry = service.ports.find((p) => p.port === port);
    if (!entry) throw new Error(`Service ${namespace}/${name} has no port ${port}`);
    const forwarder = new Forwarder(
      Deno.listen({ hostname: "127.0.0.1", port: 0 }),
      () => this.#toEndpoint(service, entry.targetPort),
    );
    this.#forwarders.push(forwarder);
    return forwarder.port;
  }

  /**
   * `kubectl port-forward` to a Service a program created at run time (not
   * rendered): each connection reads the Service from the API server, as
   * kube-proxy follows it, and goes to the `targetPort` of a Ready pod its
   * selector picks.
   */
  portForwardLive(namespace: string, name: string, port: number): number {
    const forwarder = new Forwarder(Deno.listen({ hostname: "127.0.0.1", port: 0 }), async () => {
      const object = this.kube.get("Service", namespace, name);
      const spec = object?.spec as Omit<ClusterService, "name" | "namespace"> | undefined;
      const entry = spec?.ports.find((p) => p.port === port);
      if (!spec || !entry) return null;
      const service: ClusterService = {
        ...spec,
        name,
        namespace,
        selector: spec.selector ?? {},
        publishNotReadyAddresses: spec.publishNotReadyAddresses ?? false,
      };
      return await this.#toEndpoint(service, entry.targetPort ?? entry.port);
    });
    this.#forwarders.push(forwarder);
    return forwarder.port;
  }

  /** How many connections reached Service `name` so far. */
  connectionsTo(namespace: string, name: string): number {
    const service = this.service(namespace, name);
    const paths = new Set(service.ports.map((port) => this.#serviceSocket(service, port.port)));
    return this.#forwarders
      .filter((f) =>
        f.listener.addr.transport === "unix" && paths.has((f.listener.addr as Deno.UnixAddr).path)
      )
      .reduce((sum, f) => sum + f.accepted, 0);
  }

  /**
   * What is wrong with the Services' routing: a Service that selects no running pod, or a
   * `targetPort` that is no containerPort of a pod it selects. Empty when every Service port
   * reaches a declared container port.
   */
  serviceProblems(): string[] {
    const problems: string[] = [];
    for (const service of this.services) {
      if (service.name === "kubernetes" && service.namespace === "default") continue;
      const selected = this.pods.filter((pod) =>
        pod.facts.namespace === service.namespace && labelsMatch(service.selector, pod.facts.labels)
      );
      const where = `Service ${service.namespace}/${service.name}`;
      if (selected.length === 0) problems.push(`${where} selects no pod`);
      for (const pod of selected) {
        for (const port of service.ports) {
          const target = port.targetPort;
          const declared = pod.ports.some((p) =>
            typeof target === "number" ? p.containerPort === target : p.name === target
          );
          if (!declared) {
            problems.push(
              `${where} port ${port.port}: targetPort ${target} is no port of ${pod.name}`,
            );
          }
        }
      }
    }
    return problems;
  }

  /**
   * The requests the API server would have refused (403) under the rendered RBAC, as its
   * messages; a request without a service-account token is listed too. Empty when RBAC allows
   * everything the pods did.
   */
  rbacProblems(): string[] {
    const problems = new Set<string>();
    for (const request of this.kube.requests) {
      const attrs = requestAttributes(request.method, request.path, request.query);
      if (!attrs) continue;
      const token = /^Bearer (.+)$/.exec(request.authorization ?? "")?.[1] ?? "";
      const account = this.#accounts.get(token);
      if (!account) {
        problems.add(`${request.method} ${request.path} without a service-account token`);
      } else if (!authorized(this.objects, account, attrs)) {
        problems.add(forbidden(account, attrs));
      }
    }
    return [...problems];
  }

  #find(kind: string, namespace: string, name: string): Manifest | undefined {
    return this.objects.find((o) =>
      o.kind === kind && o.metadata.name === name &&
      (o.metadata.namespace ?? "default") === namespace
    );
  }

  /**
   * Starts the pod of Deployment `name` as the kubelet would, once its Service account,
   * PVCs, Secrets and ConfigMaps exist.
   *
   * @throws {ContainerConfigError} When the kubelet could not start it either.
   */
  async runDeployment(namespace: string, name: string): Promise<TestPod> {
    const deployment = this.#find("Deployment", namespace, name);
    if (!deployment) throw new Error(`no Deployment ${namespace}/${name}`);
    const template = (deployment.spec as Obj).template as Obj;
    const spec = template.spec as Obj;
    const containers = spec.containers as Obj[];
    if (containers.length !== 1 || spec.initContainers) {
      throw new Error(`${name}: the harness runs pods of exactly one container`);
    }
    const metadata = (template.metadata ?? {}) as Obj;
    const podName = `${name}-${randomName(10)}-${randomName(5)}`;
    const serviceAccountName = String(spec.serviceAccountName ?? "default");
    if (
      serviceAccountName !== "default" &&
      !this.#find("ServiceAccount", namespace, serviceAccountName)
    ) {
      throw new ContainerConfigError(`serviceaccount "${serviceAccountName}" not found`);
    }
    const facts: PodFacts = {
      name: podName,
      namespace,
      uid: crypto.randomUUID(),
      podIP: `127.0.0.${this.#nextPodIP++}`,
      nodeName: "test-node",
      serviceAccountName,
      labels: (metadata.labels ?? {}) as Record<string, string>,
      annotations: (metadata.annotations ?? {}) as Record<string, string>,
    };
    const podDir = `${this.dir}/pods/${podName}`;
    await Deno.mkdir(podDir, { recursive: true });
    const image = readImage();
    const container = containers[0];
    const env = containerEnv({
      container,
      podSpec: spec,
      pod: facts,
      objects: this.objects,
      services: this.services,
      imageEnv: {
        ...image.env,
        // The image runs a compiled binary; its stand-in, deno, must not look for a cache
        // (the path does not exist and the root is read-only).
        DENO_DIR: "/nonexistent/deno",
        DENO_NO_UPDATE_CHECK: "1",
      },
    });
    const security = securityOf(spec, container, image);
    const token = `test-token-${namespace}-${serviceAccountName}`;
    this.#accounts.set(token, { namespace, name: serviceAccountName });
    const binds = await podVolumes({
      spec,
      container,
      pod: facts,
      podDir,
      pvDir: `${this.dir}/pv`,
      fsGroup: security.fsGroup,
      find: (kind, ns, object) => this.#find(kind, ns, object),
      serviceAccount: { token, ca: this.#ca },
      hosts: hostsFile(facts, this.services),
    });
    const inbound = `${podDir}/inbound.sock`;
    const ownPorts = ((container.ports ?? []) as ContainerPort[]).map((p) => p.containerPort);
    const network = await startPodNetwork(podName, {
      podIP: facts.podIP,
      inbound,
      outbound: this.services.flatMap((service) =>
        service.ports.filter((port) => !ownPorts.includes(port.port)).map((port) => ({
          host: service.clusterIP,
          port: port.port,
          socket: this.#serviceSocket(service, port.port),
        }))
      ),
    });
    try {
      const [program, ...args] = commandLine(container, image, env);
      if (program !== "wormhole" && program !== image.binary) {
        throw new ContainerConfigError(`${name}: the image has no executable ${program}`);
      }
      const script = sandboxScript({
        scratch: podDir,
        ownedDirs: image.ownedDirs,
        imageUid: image.uid,
        imageGid: image.gid,
        binds,
        readOnlyRoot: security.readOnlyRoot,
        uid: security.uid,
        gid: security.gid,
        groups: security.groups,
        noNewPrivs: security.noNewPrivs,
        dropAllCapabilities: security.dropAll,
        workdir: String(container.workingDir ?? image.workdir),
      });
      const launcher = [
        "nsenter",
        `--target=${network.pid}`,
        "--net",
        "--",
        "unshare",
        "--mount",
        "--propagation=private",
        "--",
        "sh",
        "-c",
        script,
        "sh",
        ...Object.entries(env).map(([key, value]) => `${key}=${value}`),
      ];
      const process = new WormholeProcess(args, {}, this.bundle, launcher, this.runtime);
      const pod = new TestPod(facts, container, process, network, inbound);
      this.pods.push(pod);
      return pod;
    } catch (error) {
      network.kill("SIGTERM");
      await network.status;
      throw error;
    }
  }

  /** One probe of `pod`, now, as the kubelet runs it. */
  async probe(pod: TestPod, probe: Probe): Promise<ProbeResult> {
    if (probe.tcpSocket) {
      const port = pod.resolvePort(probe.tcpSocket.port);
      const listening = await listeningSockets(pod.process.pid);
      const success = reachableOnPodIP(listening, pod.ip, port);
      return {
        success,
        detail: `dial tcp ${pod.ip}:${port}: ${success ? "ok" : "connection refused"}`,
      };
    }
    if (!probe.httpGet) throw new Error(`pod ${pod.name}: exec probes are not supported`);
    const port = pod.resolvePort(probe.httpGet.port);
    let conn: Deno.Conn;
    try {
      conn = await pod.dial(port);
    } catch (error) {
      const path = probe.httpGet.path ?? "/";
      return {
        success: false,
        detail: `Get "http://${pod.ip}:${port}${path}": ${(error as Error).message}`,
      };
    }
    return await httpProbe(conn, probe, `${pod.ip}:${port}`);
  }

  /**
   * Probes until a probe succeeds with status 200, within the probe's bound from the container's
   * start (or from `since`); marks the pod Ready for a readiness probe.
   *
   * @returns The last result.
   * @throws {Error} With every distinct failure and the container's logs, past the bound.
   */
  async waitForProbe(
    pod: TestPod,
    kind: "readinessProbe" | "livenessProbe" | "startupProbe",
    since = pod.startedAt,
  ): Promise<ProbeResult> {
    const probe = pod.container[kind] as Probe | undefined;
    if (!probe) throw new Error(`pod ${pod.name} has no ${kind}`);
    const deadline = since + readinessBoundMs(probe);
    const failures = new Set<string>();
    let exited = false;
    pod.process.exited().then(() => (exited = true));
    while (true) {
      const result = await this.probe(pod, probe);
      if (result.success && (result.status === undefined || result.status === 200)) {
        if (kind === "readinessProbe") pod.ready = true;
        return result;
      }
      failures.add(result.detail);
      if (exited || performance.now() > deadline) {
        throw new Error(
          `${kind} of pod ${pod.name} never passed within ${readinessBoundMs(probe)} ms ` +
            `(${exited ? "the container exited" : "still running"}): ${
              [...failures].join("; ")
            }\n` +
            `container output:\n${pod.process.dump()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /**
   * Deletes `pod` as the API server's delete does: SIGTERM, then its network; its emptyDirs go
   * with it, PVC volumes stay for the next pod. Run the Deployment again for its replacement.
   */
  async deletePod(pod: TestPod): Promise<void> {
    const at = this.pods.indexOf(pod);
    if (at < 0) throw new Error(`no pod ${pod.name}`);
    this.pods.splice(at, 1);
    await pod.stop();
  }

  /** Stops every pod, kube-proxy, the API server; removes the cluster's directory. */
  async close(): Promise<void> {
    await Promise.all(this.pods.map((pod) => pod.stop()));
    await Promise.all(this.#forwarders.map((f) => f.close()));
    await this.kube.close();
    await Deno.remove(this.dir, { recursive: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
