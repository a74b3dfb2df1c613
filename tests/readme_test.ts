/**
 * README.md's "Local usage", run as a newcomer runs it: every command of its
 * `sh` blocks, as written, through `./wormhole` (and curl), against real
 * processes, then its "Both directions" example with the same server and
 * client started again. What a command prints must match the comments
 * beside it.
 *
 * The commands stay as documented; only the environment isolates the run
 * (`WORMHOLE_PORT=0`, `WORMHOLE_ADMIN_PORT=0`, a temporary state directory),
 * and the addresses that can only be known at run time are replaced: the
 * tunnel and admin ports, the upstream on port 3000, `<FINGERPRINT>`, `<AGE>`,
 * and the app's endpoint that `apps list` prints.
 */

import assert from "node:assert/strict";
import { tempDir } from "./harness/process.ts";
import { sleep } from "./harness/net.ts";

const ROOT = new URL("../", import.meta.url);
const LAUNCHER = new URL("wormhole", ROOT).pathname;

/** One documented command and the output lines its comments promise. */
interface Step {
  command: string;
  expect: string[];
}

/** The `sh` blocks of the README section `title`, as steps. */
function steps(title: string): Step[][] {
  const readme = Deno.readTextFileSync(new URL("README.md", ROOT));
  const start = readme.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README has a "${title}" section`);
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map(([, block]) => {
    const out: Step[] = [];
    for (const line of block.split("\n")) {
      const hash = line.indexOf("#");
      const code = (hash < 0 ? line : line.slice(0, hash)).trim();
      const comment = hash < 0 ? "" : line.slice(hash + 1).trim();
      if (code) out.push({ command: code, expect: comment ? [comment] : [] });
      else if (comment && out.length > 0) out[out.length - 1].expect.push(comment);
    }
    return out;
  });
}

/** A long-running documented command whose stderr lines are kept. */
class Running implements AsyncDisposable {
  readonly lines: string[] = [];
  #child: Deno.ChildProcess;
  #done: Promise<unknown>;
  #stopped: Promise<void> | undefined;

  constructor(args: string[], env: Record<string, string>, cwd: string) {
    this.#child = new Deno.Command(LAUNCHER, { args, env, cwd, stdout: "null", stderr: "piped" })
      .spawn();
    this.#done = this.#child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({
        write: (chunk) => void this.lines.push(...chunk.split("\n").filter(Boolean)),
      }),
    );
  }

  /** The first stderr line matching `pattern` (bounded wait). */
  async line(pattern: RegExp): Promise<RegExpExecArray> {
    for (let i = 0; i < 600; i++) {
      for (const line of this.lines) {
        const match = pattern.exec(line);
        if (match) return match;
      }
      await sleep(50);
    }
    throw new Error(`no line matching ${pattern}:\n${this.lines.join("\n")}`);
  }

  /** Stops the process (once; later calls wait for the same stop). */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#child.kill("SIGTERM");
      await this.#child.status;
      await this.#done;
    })();
    return this.#stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** `text` as a regular expression, with run-time values as patterns. */
function promise(text: string): RegExp {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+")
    .replaceAll("<FINGERPRINT>", "[0-9a-f]{40}")
    .replaceAll("<AGE>", "[0-9]+[smhd][0-9smhd]*")
    .replace(/127\\\.0\\\.0\\\.1:\d+/g, "127\\.0\\.0\\.1:\\d+");
  return new RegExp(escaped);
}

Deno.test("README: the local usage section works as written", async () => {
  const [serverBlock, clientBlock, operatorBlock, bothBlock] = steps("Local usage");
  await using dir = await tempDir();
  await using upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("hello from the upstream\n"),
  );
  const env = (state: string) => ({
    WORMHOLE_PORT: "0",
    WORMHOLE_ADMIN_PORT: "0",
    WORMHOLE_STATE_DIR: `${dir.path}/${state}`,
  });
  const split = (command: string) => {
    const [program, ...args] = command.split(/\s+/);
    assert.equal(program, program === "curl" ? "curl" : "./wormhole", command);
    return args;
  };

  assert.deepEqual(serverBlock.map((s) => s.command), ["./wormhole server"]);
  await using server = new Running(split(serverBlock[0].command), env("server"), dir.path);
  const tunnel = (await server.line(/tunnel listening url=ws:\/\/[^:]+:(\d+)/))[1];
  const admin = (await server.line(/admin listening url=(\S+)/))[1];

  assert.equal(clientBlock.length, 1);
  const clientCommand = clientBlock[0].command
    .replace("127.0.0.1:8080", `127.0.0.1:${tunnel}`)
    .replace("127.0.0.1:3000", `127.0.0.1:${upstream.addr.port}`);
  await using client = new Running(split(clientCommand), env("client"), dir.path);
  for (const line of clientBlock[0].expect) await client.line(promise(line));
  const fingerprint = (await client.line(/fingerprint matches: ([0-9a-f]{40})/))[1];

  let endpoint = "";
  for (const step of operatorBlock) {
    const command = step.command.replaceAll("<FINGERPRINT>", fingerprint)
      .replace(/127\.0\.0\.1:41234/, endpoint);
    const [program, ...args] = command.split(/\s+/);
    // As a reader would: the app is listed once the approved client has announced it (under
    // load, `apps list` right after `accept` could otherwise run first).
    if (/apps list/.test(command)) await server.line(/app exposed/);
    const output = await new Deno.Command(program === "curl" ? "curl" : LAUNCHER, {
      args: program === "curl" ? ["-sS", ...args] : split(command),
      env: { WORMHOLE_ADMIN: admin },
      cwd: dir.path,
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    assert.equal(output.code, 0, `${command}: ${new TextDecoder().decode(output.stderr)}`);
    for (const line of step.expect) assert.match(stdout, promise(line), command);
    endpoint = /laptop\s+web\s+(127\.0\.0\.1:\d+)/.exec(stdout)?.[1] ?? endpoint;
    if (program === "curl") assert.equal(stdout, "hello from the upstream\n");
  }
  assert.notEqual(endpoint, "", "apps list printed the endpoint");

  // "Both directions": the same server and client, stopped and started again with an offer and
  // the client's admin API; the approval is kept. The offered db is the upstream here, and psql
  // stands for any client of it.
  await client.stop();
  await server.stop();
  const [centralStep, edgeStep, listStep, psqlStep] = bothBlock;
  assert.equal(bothBlock.length, 4);
  const db = `127.0.0.1:${upstream.addr.port}`;
  await using central = new Running(
    split(centralStep.command.replace("10.0.0.5:5432", db)),
    env("server"),
    dir.path,
  );
  const tunnel2 = (await central.line(/tunnel listening url=ws:\/\/[^:]+:(\d+)/))[1];
  await using edge = new Running(
    split(
      edgeStep.command.replace("127.0.0.1:3000", db).replace("--admin-port 8082", "--admin-port 0"),
    ),
    { ...env("client"), WORMHOLE_SERVER: `ws://127.0.0.1:${tunnel2}/wh/tunnel` },
    dir.path,
  );
  const edgeAdmin = (await edge.line(/admin listening url=(\S+)/))[1];
  await edge.line(/offered app listening .*app=db/);
  const list = await new Deno.Command(LAUNCHER, {
    args: split(listStep.command.replace("http://127.0.0.1:8082", edgeAdmin)),
    cwd: dir.path,
  }).output();
  const listed = new TextDecoder().decode(list.stdout);
  assert.equal(list.code, 0, new TextDecoder().decode(list.stderr));
  for (const line of listStep.expect) assert.match(listed, promise(line), listStep.command);
  const offered = /central\s+db\s+127\.0\.0\.1:(\d+)/.exec(listed)?.[1];
  assert.ok(offered, listed);
  assert.match(psqlStep.command, /^psql -h 127\.0\.0\.1 -p 40871$/);
  const answer = await fetch(`http://127.0.0.1:${offered}/`);
  assert.equal(await answer.text(), "hello from the upstream\n");
});
