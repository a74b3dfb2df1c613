/**
 * Kubernetes integration: annotated edge Services become a client's apps
 * ({@linkcode AnnotatedServiceSource}); exposed apps become proxy Services in
 * the central cluster ({@linkcode ProxyServiceController}).
 *
 * Nothing here imports kubernetes-fluent-client: {@linkcode loadKubeApi}
 * loads it on first use, so local mode never pays its start-up cost.
 *
 * @module
 */

export * from "./annotations.ts";
export * from "./api.ts";
export * from "./endpoint_slice.ts";
export * from "./errors.ts";
export * from "./exposer.ts";
export * from "./ha.ts";
export * from "./ha_collector.ts";
export * from "./leader.ts";
export * from "./load_api.ts";
export * from "./names.ts";
export * from "./namespace.ts";
export * from "./objects.ts";
export * from "./reflector.ts";
export * from "./replica_leases.ts";
export * from "./secret_state.ts";
export * from "./sink.ts";
export * from "./source.ts";
