import assert from "node:assert/strict";
import { resolveNamespace } from "./namespace.ts";

Deno.test("namespace: flag, then POD_NAMESPACE, the service account file, the kubeconfig context, default", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const saFile = `${dir}/namespace`;
    const kubeconfig = `${dir}/config`;
    await Deno.writeTextFile(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "current-context: dev",
        "contexts:",
        "- {name: other, context: {cluster: c, namespace: nope}}",
        "- {name: dev, context: {cluster: c, namespace: team-a}}",
        "",
      ].join("\n"),
    );
    const vars: Record<string, string> = { KUBECONFIG: `${dir}/missing:${kubeconfig}` };
    const sources = { serviceAccountFile: saFile, env: (name: string) => vars[name] };
    const resolve = async (flag?: string) => {
      const { namespace, source } = await resolveNamespace(flag, sources);
      return `${namespace} (${source})`;
    };
    assert.equal(await resolve(), "team-a (kubeconfig)");
    await Deno.writeTextFile(saFile, "in-pod\n");
    assert.equal(await resolve(), "in-pod (service account)");
    vars.POD_NAMESPACE = "downward";
    assert.equal(await resolve(), "downward (POD_NAMESPACE)");
    assert.equal(await resolve("given"), "given (flag)");
    delete vars.POD_NAMESPACE;
    await Deno.remove(saFile);
    vars.KUBECONFIG = `${dir}/missing`;
    assert.equal(await resolve(), "default (default)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
