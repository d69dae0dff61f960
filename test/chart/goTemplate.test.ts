/**
 * The chart renderer's template engine, checked two ways:
 * - against Go itself: @evertdespiegeleer/go-template is Go's text/template compiled to
 *   WebAssembly (with only Go's built-in functions and missingkey=error), so every case here
 *   that uses no Helm function and no missing key must render byte-for-byte the same, or fail
 *   in both;
 * - Helm/Sprig functions against outputs documented by Helm and Sprig (Go's sources).
 */
import { parse as goParse } from '@evertdespiegeleer/go-template';
import { describe, expect, it } from 'vitest';
import { TemplateSet } from '../../scripts/helm-render/goTemplateExec.ts';
import { helmFunctions } from '../../scripts/helm-render/helmFunctions.ts';

function ours(src: string, data: unknown): string {
  const set = new TemplateSet(helmFunctions());
  set.add('chart/templates/test.yaml', src);
  return set.execute('chart/templates/test.yaml', data as never).replaceAll('<no value>', '');
}

/** [template, data]: rendered by Go (WASM) and by us; outputs (or failure) must agree. */
const DIFFERENTIAL: [string, unknown][] = [
  ['plain text, no actions', {}],
  ['a {{- " b " -}} c', {}],
  ['a  {{- 1 }}  b {{ 2 -}}  c', {}],
  ['x\n{{- /* a comment */ -}}\ny', {}],
  ['x {{/* comment */}} y', {}],
  ['{{ .a }} {{ .b.c }} {{ .l }} {{ .m }}', { a: 'A', b: { c: 3 }, l: [1, 'two', true, null], m: { z: 1, a: [2] } }],
  ['{{ .f }} {{ .g }} {{ .h }} {{ .i }} {{ .j }} {{ .k }}', { f: 2.5, g: 1000000, h: 123456, i: 0.0001, j: 0.00001, k: -7 }],
  ['{{ 3 }} {{ 3.0 }} {{ 1e3 }} {{ 0x1F }} {{ 017 }} {{ 0o17 }} {{ 0b101 }} {{ \'a\' }} {{ -4 }}', {}],
  ['{{ "tab\\tnl\\n\\"q\\"" }}|{{ `raw\\n` }}', {}],
  ['{{ range .l }}[{{ . }}]{{ end }}', { l: ['a', 'b', 'c'] }],
  ['{{ range $i, $v := .l }}{{ $i }}={{ $v }};{{ end }}', { l: ['a', 'b'] }],
  ['{{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }}', { m: { b: 2, a: 1, c: 3 } }],
  ['{{ range .l }}x{{ else }}empty{{ end }}', { l: [] }],
  ['{{ range .l }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}', { l: [1, 2, 3, 4, 5] }],
  ['{{ $x := "a" }}{{ range .l }}{{ $x = . }}{{ end }}{{ $x }}', { l: ['b', 'c'] }],
  ['{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}', {}],
  ['{{ with .m }}{{ .a }}{{ else }}none{{ end }}|{{ with .n }}{{ . }}{{ else }}none{{ end }}', { m: { a: 'in' }, n: '' }],
  ['{{ if .a }}A{{ else if .b }}B{{ else if .c }}C{{ else }}D{{ end }}', { a: 0, b: '', c: [1] }],
  ['{{ if and .a .b }}both{{ end }}{{ if or .c .d }}either{{ end }}{{ if not .e }}note{{ end }}', { a: 1, b: 'x', c: 0, d: {}, e: false }],
  ['{{ and 1 0 "x" }} {{ and 1 2 3 }} {{ or 0 "" }} {{ or 0 "y" 3 }}', {}],
  ['{{ len .s }} {{ len .l }} {{ len .m }} {{ index .l 1 }} {{ index .m "k" }} {{ index .n 0 1 }}', { s: 'héllo', l: [1, 2], m: { k: 'v' }, n: [[0, 'deep']] }],
  ['{{ printf "%s-%d-%v-%q-%t-%5s|%-4s|%03d" "a" 4 2.5 "q" true "r" "l" 7 }}', {}],
  ['{{ printf "%d %s %v" .n .n .n }} {{ printf "%s" 3 }} {{ printf "%d" }} {{ printf "x" 1 }}', { n: 3 }],
  ['{{ printf "%.2f %f" 3.14159 2.5 }} {{ printf "%x %x" 255 "hi" }} {{ printf "%%" }}', {}],
  ['{{ print 1 2 "a" "b" 3 }}|{{ println "a" 1 }}|{{ print }}', {}],
  ['{{ eq .a "x" }} {{ eq .n 3.0 }} {{ ne .a "y" }} {{ lt 1 2 }} {{ le "a" "b" }} {{ gt 2.5 1.5 }} {{ ge 3 3 }}', { a: 'x', n: 3 }],
  ['{{ eq 1 2 3 1 }} {{ eq "a" "b" }}', {}],
  ['{{ eq .n 3 }}', { n: 3 }],
  ['{{ lt "a" 1 }}', {}],
  ['{{ eq .l .l }}', { l: [1] }],
  ['{{ (index .l 0).a }} {{ (printf "%s" "p") }} {{ .m.x | printf "%s+%s" "first" }}', { l: [{ a: 'A' }], m: { x: 'X' } }],
  ['{{ define "t" }}<{{ . }}>{{ end }}{{ template "t" .v }}{{ template "t" }}', { v: 9 }],
  ['{{ define "r" }}{{ if gt (len .) 0 }}{{ index . 0 }}{{ end }}{{ end }}{{ template "r" .l }}', { l: ['first'] }],
  ['{{ .a.b }}', { a: 'string' }],
  ['{{ nosuchfunc 1 }}', {}],
  ['{{ printf 3 }}', {}],
  ['{{ .a 1 }}', { a: 1 }],
  ['{{ $undefined }}', {}],
  ['{{ if }}x{{ end }}', {}],
  ['{{ range .l }}{{ end }', { l: [] }],
  ['{{ len 3 }}', {}],
  ['{{ index .l 5 }}', { l: [1] }],
];

describe('go template engine agrees with Go text/template (WASM)', () => {
  for (const [src, data] of DIFFERENTIAL) {
    it(JSON.stringify(src), async () => {
      let goOut: string | Error;
      try {
        // Helm strips Go's "<no value>" marker from its output; so does ours().
        goOut = (await goParse(src, data)).replaceAll('<no value>', '');
      } catch (e) {
        goOut = e as Error;
      }
      let ourOut: string | Error;
      try {
        ourOut = ours(src, data);
      } catch (e) {
        ourOut = e as Error;
      }
      if (goOut instanceof Error || ourOut instanceof Error) {
        expect({ goFailed: goOut instanceof Error, ourFailed: ourOut instanceof Error, go: String(goOut), ours: String(ourOut) }).toMatchObject({ goFailed: true, ourFailed: true });
      } else {
        expect(ourOut).toBe(goOut);
      }
    });
  }
});

describe('Helm behaviour the engine reproduces', () => {
  it('missing keys render empty (missingkey=zero, "<no value>" stripped); fields of nil fail', () => {
    expect(ours('[{{ .Values.nope }}]', { Values: {} })).toBe('[]');
    expect(() => ours('{{ .Values.nope.deeper }}', { Values: {} })).toThrow(/nil pointer evaluating interface \{\}\.deeper/);
  });

  it('values numbers are float64: large ones print in exponent form, %d rejects them, int fixes both', () => {
    expect(ours('{{ .n }} {{ printf "%d" .n }} {{ .n | int }}', { n: 10000000 })).toBe('1e+07 %!d(float64=1e+07) 10000000');
    expect(() => ours('{{ indent .n "x" }}', { n: 2 })).toThrow(/wrong type for value; expected int; got float64/);
  });

  it('toYaml: sorted keys, unindented sequences, YAML 1.1 quoting, no trailing newline', () => {
    expect(ours('{{ toYaml . }}', { b: [1, { y: 'on', x: 'yes' }], a: { c: null, d: '1.0', e: '' }, f: 'a\nb' })).toBe(
      // "y", "yes" and "on" are booleans in YAML 1.1 (go-yaml v2), so they are quoted, keys too.
      'a:\n  c: null\n  d: "1.0"\n  e: ""\nb:\n- 1\n- x: "yes"\n  "y": "on"\nf: |-\n  a\n  b',
    );
    expect(ours('{{ toYaml .m }}|{{ toYaml .l }}', { m: {}, l: [] })).toBe('{}|[]');
  });

  it('toJson: sorted keys and Go’s HTML-safe escapes', () => {
    expect(ours('{{ toJson . }}', { b: '<&>', a: [1, 2.5] })).toBe('{"a":[1,2.5],"b":"\\u003c\\u0026\\u003e"}');
  });

  it('default and empty follow Sprig: zero values are empty, a struct is not', () => {
    expect(ours('{{ default "d" .a }},{{ default "d" .b }},{{ default "d" .c }},{{ default "d" .d }},{{ default "d" .e }},{{ default "d" .f }}', { a: '', b: 0, c: false, d: [], e: 'x', f: 1 })).toBe('d,d,d,d,x,1');
    expect(ours('{{ empty .a }} {{ empty .b }} {{ empty .c }}', { a: {}, b: ' ', c: null })).toBe('true false true');
  });

  it('string functions: quote, squote, indent, nindent, trunc, trimSuffix, replace, contains, join', () => {
    expect(ours('{{ quote "a\\"b" 1 .n }}|{{ squote "x" }}', { n: null })).toBe('"a\\"b" "1"|\'x\'');
    expect(ours('{{ indent 2 "a\\n\\nb" }}|{{ "x" | nindent 3 }}', {})).toBe('  a\n  \n  b|\n   x');
    expect(ours('{{ trunc 3 "abcdef" }} {{ trunc -2 "abcdef" }} {{ trunc 10 "ab" }}', {})).toBe('abc ef ab');
    expect(ours('{{ "name-" | trimSuffix "-" }} {{ replace "+" "_" "1.0+b" }} {{ contains "ell" "hello" }} {{ join "," .l }}', { l: ['a', 1, true] })).toBe('name 1.0_b true a,1,true');
  });

  it('include, tpl, required, fail', () => {
    expect(ours('{{ define "x" }}[{{ .v }}]{{ end }}{{ include "x" . | upper }}{{ tpl "{{ .v }}!" . }}', { v: 'in' })).toBe('[IN]in!');
    expect(() => ours('{{ required "v is required" .v }}', { v: '' })).toThrow(/error calling required: v is required/);
    expect(() => ours('{{ fail "stop here" }}', {})).toThrow(/error calling fail: stop here/);
    expect(() => ours('{{ include "missing" . }}', {})).toThrow(/no template "missing"/);
  });

  it('dict, list, hasKey, get, set, keys, ternary, integer math', () => {
    expect(ours('{{ $d := dict "b" 1 "a" "x" }}{{ toJson $d }} {{ hasKey $d "a" }} {{ get $d "z" }}.{{ $_ := set $d "z" 2 }}{{ keys $d | join "," }}', {})).toBe('{"a":"x","b":1} true .a,b,z');
    expect(ours('{{ list 1 "a" | toJson }} {{ ternary "y" "n" true }} {{ add 1 2 .f }} {{ mul .f 1000 }} {{ sub 10 .f }} {{ max 1 5 3 }}', { f: 2.9 })).toBe('[1,"a"] y 5 2000 8 5');
  });

  it('b64enc and sha256sum', () => {
    expect(ours('{{ b64enc "fooocus" }} {{ sha256sum "abc" }}', {})).toBe('Zm9vb2N1cw== ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('an unknown function is a parse error naming it, so the chart cannot leave the supported subset', () => {
    expect(() => ours('{{ randAlphaNum 8 }}', {})).toThrow(/function "randAlphaNum" not defined/);
    expect(() => ours('{{ lookup "v1" "Secret" "ns" "x" | toJson }}', {})).not.toThrow();
  });
});
