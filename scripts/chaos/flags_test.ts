import assert from "node:assert/strict";
import { ChaosUsageError, parseFlags } from "./flags.ts";
import { LONG, SHORT } from "./profile.ts";

const NAMES = ["floods", "churn", "restart"];

Deno.test("chaos flags: the defaults are the short profile, every scenario, the table", () => {
  assert.deepEqual(parseFlags([], NAMES), {
    profile: SHORT,
    json: false,
    only: NAMES,
    serverEnv: {},
    clientEnv: {},
  });
});

Deno.test("chaos flags: --long, --json, --out and --only in its given order", () => {
  const flags = parseFlags(
    ["--long", "--json", "--out", "-", "--only", "restart, floods"],
    NAMES,
  );
  assert.equal(flags.profile, LONG);
  assert.equal(flags.json, true);
  assert.equal(flags.out, "-");
  assert.deepEqual(flags.only, ["restart", "floods"]);
});

Deno.test("chaos flags: --server-env and --client-env add to each side's environment, once per pair", () => {
  const flags = parseFlags(
    [
      "--client-env",
      "MALLOC_ARENA_MAX=2",
      "--client-env",
      "A=b=c",
      "--server-env",
      "MALLOC_MMAP_THRESHOLD_=131072",
    ],
    NAMES,
  );
  assert.deepEqual(flags.clientEnv, { MALLOC_ARENA_MAX: "2", A: "b=c" });
  assert.deepEqual(flags.serverEnv, { MALLOC_MMAP_THRESHOLD_: "131072" });
});

Deno.test("chaos flags: unknown flags, unknown scenarios and missing values are usage errors", () => {
  for (
    const args of [
      ["--fast"],
      ["--only", "floods,nope"],
      ["--out"],
      ["--only", "--long"],
      ["--client-env", "=2"],
      ["--client-env", "NOEQUALS"],
      ["--server-env", "=2"],
      ["--server-env"],
    ]
  ) {
    assert.throws(() => parseFlags(args, NAMES), ChaosUsageError, args.join(" "));
  }
});

Deno.test("chaos flags: the long profile is the issue's figures, the short one is smaller", () => {
  assert.equal(LONG.cycles, 1000);
  assert.equal(LONG.shortConnections, 100_000);
  assert.equal(LONG.peers, 200);
  assert.equal(LONG.idleSockets, 1000);
  assert.equal(LONG.transferMiB, 1024);
  assert.equal(LONG.stopSeconds, 60);
  for (const [key, short] of Object.entries(SHORT)) {
    const long = (LONG as unknown as Record<string, unknown>)[key];
    if (typeof short === "number" && typeof long === "number" && key !== "reconnectMaxMs") {
      assert.ok(short <= long, `${key}: short ${short} > long ${long}`);
    }
  }
});
