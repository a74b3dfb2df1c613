import assert from "node:assert/strict";
import { Logger } from "./mod.ts";

function capture(format: "text" | "json") {
  const lines: string[] = [];
  return { lines, logger: new Logger({ format, sink: (line) => lines.push(line) }) };
}

/** Any character the logger must escape (control characters are the point). */
// deno-lint-ignore no-control-regex
const RAW = /[\u0000-\u001f\u007f-\u009f\u202e\u2028]/;

// What a peer could put in a name or a reason: an ANSI escape, a carriage
// return that overwrites the line, a bidi override, a C1 control, U+2028.
const HOSTILE = "ok\u001b[2J\rfake\u202eevil\u0085x\u2028y";

Deno.test("log: regression: text lines carry no control or bidi character, only escapes", () => {
  const { lines, logger } = capture("text");
  logger.warn(`rejecting ${HOSTILE}`, { peer: HOSTILE, plain: "edge-1" });
  const [line] = lines;
  assert.doesNotMatch(line, RAW);
  assert.ok(line.includes("plain=edge-1"), line);
  // The value is quoted and escaped: JSON.parse gives back the exact text.
  const quoted = line.slice(line.indexOf("peer=") + 5, line.indexOf(" plain="));
  assert.equal(JSON.parse(quoted), HOSTILE);
  assert.ok(line.includes("rejecting ok\\u001b[2J\\u000dfake\\u202eevil\\u0085x\\u2028y"), line);
});

Deno.test("log: regression: JSON lines escape them too and still parse to the same text", () => {
  const { lines, logger } = capture("json");
  logger.error(HOSTILE, { peer: HOSTILE });
  const [line] = lines;
  assert.doesNotMatch(line, RAW);
  const parsed = JSON.parse(line);
  assert.equal(parsed.msg, HOSTILE);
  assert.equal(parsed.peer, HOSTILE);
});

Deno.test("log: ordinary text is unchanged; values with spaces, quotes or '=' are quoted", () => {
  const { lines, logger } = capture("text");
  logger.info("peer connected", { peer: "edge-1", reason: 'a "b" = c', n: 3 });
  assert.ok(
    lines[0].endsWith(' INFO  peer connected peer=edge-1 reason="a \\"b\\" = c" n=3'),
    lines[0],
  );
});
