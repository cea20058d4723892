// The pages' English and Chinese dictionaries (web/i18n.js) must hold the same
// keys: a key missing in Chinese shows English in the middle of a Chinese page,
// and one missing in English is text the default language never shows. Both
// renderings of a key must also use the same {placeholders}, or a value (a user
// name, a count) silently drops out of one language. CTest: lint_i18n_keys.
//
// QRLOGIN_I18N_FILE=<path> checks another copy of i18n.js (to try the check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const here = dirname(fileURLToPath(import.meta.url));
const ourFile = join(here, '..', '..', 'web', 'i18n.js');
const i18nFile = process.env.QRLOGIN_I18N_FILE || ourFile;
const LANGS = ['en', 'zh-CN'];

// The dictionaries as the page builds them: the module's own code runs, in a
// context with no browser (its init() then does nothing), and hands back its
// private DICTS table. Module syntax is made script syntax first.
function loadDicts(source) {
  const script = source.replace(/^export\s+/gm, '') + '\n;DICTS';
  return vm.runInNewContext(script, {}, { filename: 'i18n.js' });
}

// The variables an entry shows, sorted. A string names them as {name}. A
// function (a plural) is called with a stand-in whose every variable reads as
// a marker, and the markers in what it returns are collected.
function placeholders(entry) {
  const names = (text, re) => [...new Set([...text.matchAll(re)].map((m) => m[1]))].sort();
  if (typeof entry === 'function') {
    const marked = new Proxy({}, { get: (_, name) => `\u0000${String(name)}\u0000` });
    return names(String(entry(marked)), /\u0000(\w+)\u0000/g);
  }
  return names(String(entry), /\{(\w+)\}/g);
}

// Text with nothing to translate (only placeholders and punctuation, like the
// `raw` entry '{x}'): t() falls back to English, so other languages may omit it.
const languageNeutral = (entry) =>
  typeof entry === 'string' && !/\p{L}/u.test(entry.replace(/\{\w+\}/g, ''));

// Every difference between the languages, one line each.
function compareDicts(dicts) {
  const problems = [];
  for (const l of LANGS) if (!dicts[l]) problems.push(`no ${l} dictionary`);
  if (problems.length) return problems;
  const [base, ...others] = LANGS;
  for (const l of others) {
    for (const key of Object.keys(dicts[base])) {
      if (!(key in dicts[l])) {
        if (!languageNeutral(dicts[base][key])) problems.push(`${l} lacks "${key}"`);
      } else {
        const a = placeholders(dicts[base][key]), b = placeholders(dicts[l][key]);
        if (a.join() !== b.join())
          problems.push(`"${key}": ${base} uses {${a.join('}, {')}}, ${l} uses {${b.join('}, {')}}`);
      }
    }
    for (const key of Object.keys(dicts[l]))
      if (!(key in dicts[base])) problems.push(`${base} lacks "${key}" (only in ${l})`);
  }
  return problems;
}

// The planted cases below always start from our own file.
const source = readFileSync(ourFile, 'utf8');

test('English and Chinese have the same keys and the same placeholders', () => {
  const dicts = loadDicts(readFileSync(i18nFile, 'utf8'));
  assert.ok(Object.keys(dicts.en).length > 50, 'the English dictionary was read');
  assert.deepEqual(compareDicts(dicts), [], `in ${i18nFile}`);
});

// The check itself, on planted differences: it must be able to fail.
test('a key deleted from one language is reported', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qrlogin-i18n-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const zhStart = source.indexOf('const zh = {');
  assert.ok(zhStart > 0, 'i18n.js declares `const zh = {`');
  // Drop the Chinese pc.h1 and add a key only Chinese has.
  const zh = source.slice(zhStart)
    .replace(/^\s*'pc\.h1':.*\n/m, '')
    .replace('const zh = {', "const zh = {\n  'pc.onlyHere': '只有中文',");
  const planted = join(dir, 'i18n.js');
  writeFileSync(planted, source.slice(0, zhStart) + zh);
  const problems = compareDicts(loadDicts(readFileSync(planted, 'utf8')));
  assert.deepEqual(problems, ['zh-CN lacks "pc.h1"', 'en lacks "pc.onlyHere" (only in zh-CN)']);
});

test('a placeholder missing from one rendering is reported', () => {
  const dicts = loadDicts(source);
  dicts['zh-CN'] = { ...dicts['zh-CN'], 'pc.status.scanned': '已扫描' };
  assert.deepEqual(compareDicts(dicts), ['"pc.status.scanned": en uses {name}, zh-CN uses {}']);
});
