#!/usr/bin/env node
// check_layers.mjs — the broker's layer rule, checked from its #include lines.
//
//   node tests/lint/check_layers.mjs [BROKER_DIR [LAYERS_FILE]]
//
// BROKER_DIR defaults to broker/ and LAYERS_FILE to layers.txt beside this
// script. Every *.c and *.h of BROKER_DIR belongs to the module named by its
// file stem (X_internal.h to module X); its `#include "x.h"` lines are edges to module x (headers that are
// not in BROKER_DIR, and a module including itself, are no edges). It prints
// one line per problem and exits 1 when there is any:
//   - a module includes a header of a higher layer;
//   - the module include graph has a cycle (one shortest cycle is printed for
//     each set of modules that reach each other);
//   - a file's module is not in LAYERS_FILE.
// Exit 0 when clean (silent), 2 on bad usage or an unreadable layers file.
// The rule and the table are explained in docs/architecture.md ("Layers").

import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const brokerDir = process.argv[2] ?? join(here, '..', '..', 'broker');
const layersFile = process.argv[3] ?? join(here, 'layers.txt');
// Paths in messages: relative to where the check runs, as an editor wants them,
// unless that means climbing out of it (a copy in /tmp stays absolute).
const shown = (p) => {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith('..') ? rel : resolve(p);
};

function fail(msg) {
  console.error(`check_layers: ${msg}`);
  process.exit(2);
}

// ---- the table: module -> {rank, name} ----

function readLayers(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    fail(`cannot read ${file}: ${e.message}`);
  }
  const layerOf = new Map();
  let layer = null;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const words = line.split(/\s+/);
    if (words[0] === 'layer') {
      const rank = Number(words[1]);
      if (words.length !== 3 || !Number.isInteger(rank))
        fail(`${file}:${i + 1}: expected "layer <rank> <name>"`);
      layer = { rank, name: words[2] };
      return;
    }
    if (!layer) fail(`${file}:${i + 1}: modules before the first "layer" line`);
    for (const m of words) {
      if (layerOf.has(m)) fail(`${file}:${i + 1}: module ${m} is listed twice`);
      layerOf.set(m, layer);
    }
  });
  return layerOf;
}

// ---- the code: files, their modules and includes ----

function readIncludes(dir) {
  let names;
  try {
    names = readdirSync(dir).filter((f) => /\.[ch]$/.test(f)).sort();
  } catch (e) {
    fail(`cannot read ${dir}: ${e.message}`);
  }
  const present = new Set(names);
  return names.map((f) => {
    const includes = [];
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const m = /^\s*#\s*include\s+"([^"]+)"/.exec(line);
      if (m && present.has(m[1])) includes.push(m[1]);
    }
    return { file: f, module: stem(f), includes };
  });
}

// A header private to a module (sessions_internal.h: what sessions.c and its
// sibling files share, included by nothing else) is part of that module, not
// a module of its own: its including the module's public header is no edge.
const stem = (f) => basename(f).replace(/\.[ch]$/, '').replace(/_internal$/, '');
const describe = (m, l) => `${m} (layer ${l.rank} ${l.name})`;

// ---- cycles: strongly connected sets, then one shortest cycle in each ----

function stronglyConnected(graph) {
  let counter = 0;
  const index = new Map(), low = new Map(), onStack = new Set(), stack = [], sets = [];
  const visit = (v) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v).keys()) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), index.get(w)));
      }
    }
    if (low.get(v) === index.get(v)) {
      const set = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        set.push(w);
      } while (w !== v);
      if (set.length > 1) sets.push(set.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return sets.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

// Breadth-first from start back to start, inside one strongly connected set.
function shortestCycle(graph, set, start) {
  const inSet = new Set(set);
  const prev = new Map();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift();
    for (const w of [...graph.get(v).keys()].sort()) {
      if (!inSet.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(prev.get(path[0]));
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return null; // not reached: every member of a set lies on a cycle
}

// ---- the check ----

const layerOf = readLayers(layersFile);
const files = readIncludes(brokerDir);
const problems = [];
const graph = new Map(); // module -> Map(included module -> "file: header")
const addNode = (m) => graph.has(m) || graph.set(m, new Map());

const unplaced = new Set();
for (const { file, module } of files) {
  if (layerOf.has(module) || unplaced.has(module)) continue;
  unplaced.add(module);
  problems.push(`${shown(join(brokerDir, file))}: module ${module} is not in ` +
    `${shown(layersFile)}; add it to the layer whose modules it may call ` +
    `(see docs/architecture.md, "Layers")`);
}

for (const { file, module, includes } of files) {
  addNode(module);
  for (const header of includes) {
    const target = stem(header);
    if (target === module) continue;
    addNode(target);
    const edges = graph.get(module);
    if (!edges.has(target)) edges.set(target, `${file} "${header}"`);
    const from = layerOf.get(module), to = layerOf.get(target);
    if (from && to && to.rank > from.rank)
      problems.push(`${shown(join(brokerDir, file))}: includes "${header}": ` +
        `${describe(module, from)} may not include ${describe(target, to)}`);
  }
}

for (const set of stronglyConnected(graph)) {
  const cycle = shortestCycle(graph, set, set[0]);
  const via = cycle.slice(0, -1).map((m, i) => graph.get(m).get(cycle[i + 1]));
  problems.push(`cycle: ${cycle.join(' -> ')} (${via.join(', ')})` +
    (set.length > cycle.length - 1 ? `; modules that reach each other: ${set.join(' ')}` : ''));
}

for (const p of problems) console.log(p);
process.exit(problems.length ? 1 : 0);
