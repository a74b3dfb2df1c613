/**
 * Semantics of the Go template engine, each checked against what Go's
 * text/template (and Sprig/Helm) produce for the same input.
 */

import assert from "node:assert/strict";
import {
  formatNumber,
  goQuote,
  parseTemplate,
  renderString,
  sprintf,
  TemplateExecError,
  TemplateParseError,
  truth,
} from "./mod.ts";

const render = (source: string, data: unknown = {}) => renderString(source, data);

Deno.test("gotemplate: {{- trims white space before, -}} after, newlines included", () => {
  assert.equal(render("a  \n\t{{- 1 -}}  \n  b"), "a1b");
  assert.equal(render("a  {{- 1 }}  b"), "a1  b");
  assert.equal(render("a  {{ 1 -}}  b"), "a  1b");
  // The marker needs white space: {{-3}} is the number -3, not a trim.
  assert.equal(render("a {{-3}} b"), "a -3 b");
  assert.equal(render("a\n{{- /* comment */ -}}\nb"), "ab");
  assert.equal(render("a {{/* comment */}} b"), "a  b");
});

Deno.test("gotemplate: a template line that only holds {{- if }} leaves no blank line", () => {
  const source = "x:\n  {{- if .on }}\n  y: 1\n  {{- end }}\nz: 2\n";
  assert.equal(render(source, { on: true }), "x:\n  y: 1\nz: 2\n");
  assert.equal(render(source, { on: false }), "x:\nz: 2\n");
});

Deno.test("gotemplate: truth is Go's: false, 0, nil, empty string, list and map are false", () => {
  for (const value of [false, 0, null, undefined, "", [], {}]) {
    assert.equal(truth(value), false, JSON.stringify(value));
    assert.equal(render("{{ if . }}t{{ else }}f{{ end }}", value), "f");
  }
  for (const value of [true, 1, -1, "0", "false", [0], { a: null }]) {
    assert.equal(truth(value), true, JSON.stringify(value));
    assert.equal(render("{{ if . }}t{{ else }}f{{ end }}", value), "t");
  }
});

Deno.test("gotemplate: pipelines pass the value as the last argument", () => {
  assert.equal(render('{{ "abcdef" | trunc 3 | quote }}'), '"abc"');
  assert.equal(render('{{ .a | default "x" | printf "%s-%s" "p" }}', {}), "p-x");
  assert.equal(render('{{ printf "%s=%s" "k" (include "v" .) }}{{ define "v" }}V{{ end }}'), "k=V");
});

Deno.test("gotemplate: with and range move dot; $ stays the data of the template", () => {
  const data = { name: "top", items: ["a", "b"], sub: { name: "sub" } };
  assert.equal(render("{{ with .sub }}{{ .name }}/{{ $.name }}{{ end }}", data), "sub/top");
  assert.equal(render("{{ range .items }}{{ . }}{{ $.name }},{{ end }}", data), "atop,btop,");
  assert.equal(render("{{ range $i, $v := .items }}{{ $i }}{{ $v }}{{ end }}", data), "0a1b");
  assert.equal(render("{{ range .none }}x{{ else }}empty{{ end }}", data), "empty");
  assert.equal(render("{{ with .none }}x{{ else }}{{ .name }}{{ end }}", data), "top");
  // A map ranges in key order.
  assert.equal(render("{{ range $k, $v := . }}{{ $k }}{{ $v }}{{ end }}", { b: 2, a: 1 }), "a1b2");
});

Deno.test("gotemplate: include gets its own dot and $; variables end with their block", () => {
  const source = '{{ define "t" }}{{ $.v }}{{ end }}{{ include "t" .inner }}-{{ $.v }}';
  assert.equal(render(source, { v: "outer", inner: { v: "inner" } }), "inner-outer");
  assert.equal(render("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}"), "2");
  assert.throws(
    () => render("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}"),
    (e: Error) => e instanceof TemplateParseError || /undefined variable "\$y"/.test(e.message),
  );
  assert.equal(render("{{ $x := 1 }}{{ $x }}"), "1", "a declaration prints nothing");
});

Deno.test("gotemplate: else if chains close with one end", () => {
  const source = "{{ if eq . 1 }}one{{ else if eq . 2 }}two{{ else }}many{{ end }}";
  assert.equal(render(source, 1), "one");
  assert.equal(render(source, 2), "two");
  assert.equal(render(source, 3), "many");
});

Deno.test("gotemplate: missing keys print nothing; a field of nothing is Helm's nil pointer error", () => {
  assert.equal(render("[{{ .a }}]", {}), "[]");
  assert.throws(() => render("{{ .a.b }}", {}), /nil pointer evaluating interface \{\}\.b/);
  // and/or short-circuit, so the guard idiom works.
  assert.equal(render("{{ if and .a .a.b }}y{{ else }}n{{ end }}", {}), "n");
  assert.equal(render("{{ or .a .b 3 }}", {}), "3");
});

Deno.test("gotemplate: Sprig functions take the value last", () => {
  assert.equal(render('{{ "wormhole-" | trimSuffix "-" }}'), "wormhole");
  assert.equal(render('{{ "a+b" | replace "+" "_" }}'), "a_b");
  assert.equal(render('{{ contains "worm" "wormhole" }}'), "true");
  assert.equal(render('{{ join "," .l }}', { l: ["a", "b"] }), "a,b");
  assert.equal(render('{{ "abc" | trunc -2 }}'), "bc");
  assert.equal(render('{{ "x\\ny" | indent 2 }}|{{ "x" | nindent 2 }}'), "  x\n  y|\n  x");
  assert.equal(render('{{ "tok" | b64enc }}/{{ "dG9r" | b64dec }}'), "dG9r/tok");
  assert.equal(render('{{ hasKey (dict "a" 1) "a" }} {{ hasKey (dict) "a" }}'), "true false");
  assert.equal(render('{{ default 5 0 }} {{ default 5 7 }} {{ default "d" "" }}'), "5 7 d");
  assert.match(render("{{ randAlphaNum 40 }}"), /^[A-Za-z0-9]{40}$/);
  assert.equal(render("{{ toYaml . }}", { b: [1], a: { c: "x" } }), "a:\n  c: x\nb:\n  - 1");
  assert.equal(render("{{ toYaml . }}", {}), "{}");
  assert.equal(render('{{ index . "a" 1 }}', { a: ["x", "y"] }), "y");
});

Deno.test("gotemplate: required fails with its message, quote escapes as Go does", () => {
  assert.throws(() => render('{{ required "name is required" .name }}'), /name is required/);
  assert.throws(() => render('{{ required "x" "" }}'), TemplateExecError);
  assert.equal(render('{{ required "x" "v" }}'), "v");
  assert.equal(goQuote('a"b\\c\nd\x01'), '"a\\"b\\\\c\\nd\\x01"');
  assert.equal(render('{{ quote "a" nil "b" }}'), '"a" "b"');
});

Deno.test("gotemplate: numbers print as Go prints float64 (Helm's values are float64)", () => {
  assert.equal(formatNumber(8080), "8080");
  assert.equal(formatNumber(123456), "123456");
  assert.equal(formatNumber(1000000), "1e+06");
  assert.equal(formatNumber(0.5), "0.5");
  assert.equal(formatNumber(0.00001), "1e-05");
  assert.equal(sprintf("%s", 8080), "%!s(float64=8080)");
  assert.equal(sprintf("%d-%v-%q", 3, true, "x"), '3-true-"x"');
  assert.equal(sprintf("%s %s", "a"), "a %!s(MISSING)");
});

Deno.test("gotemplate: comparisons of different kinds fail as in Go", () => {
  assert.throws(() => render('{{ eq 1 "1" }}'), /incompatible types for comparison/);
  assert.equal(render('{{ eq "a" "b" "a" }}'), "true");
  assert.equal(render("{{ lt 1 2 }}"), "true");
});

Deno.test("gotemplate: syntax errors name the template and the line", () => {
  assert.throws(() => parseTemplate("a\n{{ if .x }}", "t.yaml"), /t\.yaml:2: unexpected EOF/);
  assert.throws(() => parseTemplate("{{ end }}", "t.yaml"), /t\.yaml:1: unexpected \{\{end\}\}/);
  assert.throws(() => parseTemplate("{{ .a", "t.yaml"), /unclosed action/);
  assert.throws(() => render("{{ nosuch 1 }}"), /function "nosuch" not defined/);
  assert.throws(() => render('{{ include "missing" . }}'), /no template "missing"/);
});

Deno.test("gotemplate: strings may hold }} and quotes", () => {
  assert.equal(render('{{ "}}" }}'), "}}");
  assert.equal(render('{{ `a"b` }}'), 'a"b');
  assert.equal(render('{{ "tab\\there" }}'), "tab\there");
});
