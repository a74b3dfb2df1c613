/**
 * What a test cluster prepares once: the program the image runs (a bundle of
 * mod.ts, see image.ts) and the API server's CA and certificate.
 *
 * @module
 */

const ROOT = new URL("../../../", import.meta.url).pathname;

async function run(program: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${program} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Builds the bundle the image's binary stands for (see image.ts) into `dir`. */
export async function buildBundle(dir: string): Promise<string> {
  const bundle = `${dir}/wormhole.js`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--keep-names", "-o", bundle, "mod.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`deno bundle failed: ${new TextDecoder().decode(out.stderr)}`);
  await Deno.chmod(bundle, 0o644);
  return bundle;
}

/**
 * The deno executable, linked (or copied) into `dir`, for the containers: the checkout (and so
 * node_modules/.bin/deno) may live under a path a pod's volumes hide, such as /tmp, which the
 * chart mounts an emptyDir on.
 */
export async function containerRuntime(dir: string): Promise<string> {
  const runtime = `${dir}/deno`;
  try {
    await Deno.link(Deno.execPath(), runtime);
  } catch {
    // Another file system: a copy does the same.
    await Deno.copyFile(Deno.execPath(), runtime);
  }
  await Deno.chmod(runtime, 0o755);
  return runtime;
}

/** A CA and a certificate of the API server for `kubernetes.default.svc` and `apiIP`. */
export async function apiServerCertificate(
  dir: string,
  apiIP: string,
): Promise<{ ca: string; cert: string; key: string }> {
  const p = (name: string) => `${dir}/${name}`;
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    p("ca.key"),
    "-out",
    p("ca.crt"),
    "-days",
    "1",
    "-subj",
    "/CN=test-cluster-ca",
  ]);
  await run("openssl", [
    "req",
    ...ec,
    "-keyout",
    p("api.key"),
    "-out",
    p("api.csr"),
    "-subj",
    "/CN=kube-apiserver",
  ]);
  await Deno.writeTextFile(
    p("api.ext"),
    `subjectAltName=IP:${apiIP},DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n`,
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    p("api.csr"),
    "-CA",
    p("ca.crt"),
    "-CAkey",
    p("ca.key"),
    "-CAcreateserial",
    "-out",
    p("api.crt"),
    "-days",
    "1",
    "-extfile",
    p("api.ext"),
  ]);
  return {
    ca: await Deno.readTextFile(p("ca.crt")),
    cert: await Deno.readTextFile(p("api.crt")),
    key: await Deno.readTextFile(p("api.key")),
  };
}
