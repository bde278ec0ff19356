#!/usr/bin/env node
// A native-solc look-alike over solc-js (soljson.js), for tools that shell out to `solc`
// (Slither/crytic-compile, Mythril). Invoked as: node wrapper.js VERSION_DIR [solc args...]
// VERSION_DIR holds soljson.js; the solc-js API module lives in ../runtime.
'use strict';
const fs = require('fs');
const path = require('path');

const versionDir = process.argv[2];
const args = process.argv.slice(3);
const runtime = path.join(__dirname, 'runtime', 'node_modules', 'solc', 'wrapper.js');

// Writes everything and only then exits: process.exit() right after a large write
// truncates piped output, which is exactly what breaks solcjs as a drop-in.
function finish(code, out, err) {
  if (err) fs.writeSync(2, err.endsWith('\n') ? err : err + '\n');
  if (!out) { process.exitCode = code; setImmediate(() => process.exit(code)); return; }
  process.stdout.write(out, () => process.exit(code));
}

function usage(message) {
  finish(1, '', `Error: ${message}\n(solsentry solc wrapper supports --version, --standard-json, ` +
    'FILE... --combined-json KEYS, remappings, --base-path, --include-path, --allow-paths, ' +
    '--optimize, --optimize-runs, --evm-version, --via-ir)');
}

function parseArgs(argv) {
  const opts = { files: [], remappings: [], includePaths: [], allow: [], basePath: null, combined: null,
    standardJson: false, version: false, optimize: false, runs: 200, evmVersion: null, viaIR: false };
  const takesValue = new Set(['--combined-json', '--base-path', '--include-path', '--allow-paths',
    '--optimize-runs', '--evm-version']);
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let value = null;
    if (a.startsWith('--') && a.includes('=')) { [a, value] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]; }
    if (takesValue.has(a) && value === null) {
      if (i + 1 >= argv.length) throw new Error(`option ${a} needs a value`);
      value = argv[++i];
    }
    switch (a) {
      case '--version': opts.version = true; break;
      case '--standard-json': opts.standardJson = true; break;
      case '--combined-json': opts.combined = value.split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--base-path': opts.basePath = value; break;
      case '--include-path': opts.includePaths.push(value); break;
      case '--allow-paths': opts.allow.push(...value.split(',').filter(Boolean)); break;
      case '--optimize': opts.optimize = true; break;
      case '--optimize-runs': opts.runs = parseInt(value, 10); opts.optimize = true; break;
      case '--evm-version': opts.evmVersion = value; break;
      case '--via-ir': case '--experimental-via-ir': opts.viaIR = true; break;
      case '--no-color': case '--pretty-json': break;
      case '-': opts.files.push('-'); break;
      default:
        if (a.startsWith('-')) throw new Error(`unsupported option ${a}`);
        if (a.includes('=') && !fs.existsSync(a)) opts.remappings.push(a);
        else opts.files.push(a);
    }
  }
  return opts;
}

// The import callback reads only inside the allowed directories, like native solc's --allow-paths:
// the base path, the include paths, the directories of the input files, --allow-paths, and
// SOLSENTRY_ALLOW_PATHS (':'-separated; set by SolSentry for tools that shell out to this wrapper).
// A path outside them is refused from its text alone (whether it exists is never looked at); a
// path inside them that a symbolic link takes outside is refused too.
function realOrSelf(p) { try { return fs.realpathSync(p); } catch (e) { return path.resolve(p); } }

function inside(p, roots) { return roots.some((r) => p === r || p.startsWith(r.endsWith(path.sep) ? r : r + path.sep)); }

function makeReader(opts) {
  const roots = [opts.basePath || process.cwd(), ...(opts.includePaths || [])];
  opts.allow = opts.allow || [];
  const fromEnv = (process.env.SOLSENTRY_ALLOW_PATHS || '').split(':').filter(Boolean);
  // --serve requests name their sandbox exactly: then only those directories (SolSentry passes the base).
  const granted = opts.exactAllow ? opts.allow : [...roots, ...opts.allow, ...fromEnv, ...(opts.fileDirs || [])];
  const allowed = granted.map((p) => path.resolve(p));
  const allowedReal = allowed.map(realOrSelf);
  return {
    import(unitName) {
      const candidates = (path.isAbsolute(unitName) ? [unitName] : roots.map((r) => path.resolve(r, unitName)))
        .filter((c) => inside(c, allowed) || inside(c, allowedReal));
      if (candidates.length === 0) {
        return { error: `File outside of allowed directories: ${unitName} (SolSentry reads only the audited project)` };
      }
      for (const c of candidates) {
        let real;
        try { real = fs.realpathSync(c); } catch (e) { continue; /* not here: try the next root */ }
        if (!inside(real, allowedReal)) {
          return { error: `File outside of allowed directories: ${unitName} (a symbolic link leaves the audited project)` };
        }
        try { return { contents: fs.readFileSync(real, 'utf8') }; } catch (e) { /* try the next root */ }
      }
      return { error: `File not found: ${unitName}` };
    },
  };
}

function sourceUnitName(file) {
  return path.isAbsolute(file) ? file : path.normalize(file).replace(/^\.\//, '');
}

// Output keys of --combined-json mapped onto standard-JSON output selection.
const SELECTION = {
  abi: ['abi'], bin: ['evm.bytecode.object'], 'bin-runtime': ['evm.deployedBytecode.object'],
  srcmap: ['evm.bytecode.sourceMap'], 'srcmap-runtime': ['evm.deployedBytecode.sourceMap'],
  userdoc: ['userdoc'], devdoc: ['devdoc'], hashes: ['evm.methodIdentifiers'], metadata: ['metadata'],
  'storage-layout': ['storageLayout'], opcodes: ['evm.bytecode.opcodes'], asm: ['evm.legacyAssembly'],
};

function minor(semver) { const p = semver.split('.'); return [parseInt(p[0], 10), parseInt(p[1], 10), parseInt(p[2], 10)]; }

function combined(solc, opts) {
  const [, mi, pa] = minor(solc.semver());
  const sources = {};
  for (const f of opts.files) {
    if (f === '-') { sources['<stdin>'] = { content: fs.readFileSync(0, 'utf8') }; continue; }
    try { sources[sourceUnitName(f)] = { content: fs.readFileSync(f, 'utf8') }; }
    catch (e) { return finish(1, '', `Error: could not read ${f}: ${e.code || e.message}`); }
  }
  const wanted = opts.combined;
  const contractSel = [].concat(...wanted.filter((k) => SELECTION[k]).map((k) => SELECTION[k]));
  const settings = { outputSelection: { '*': { '*': contractSel, '': ['ast', 'legacyAST'] } },
    optimizer: { enabled: opts.optimize, runs: opts.runs }, remappings: opts.remappings };
  if (opts.evmVersion) settings.evmVersion = opts.evmVersion;
  if (opts.viaIR) settings.viaIR = true;
  const input = { language: 'Solidity', sources, settings };
  const fileDirs = opts.files.filter((f) => f !== '-').map((f) => path.dirname(path.resolve(f)));
  const out = JSON.parse(solc.compile(JSON.stringify(input), makeReader({ ...opts, fileDirs })));
  const errors = (out.errors || []);
  const text = errors.map((e) => e.formattedMessage || e.message).join('\n');
  if (errors.some((e) => e.severity === 'error')) return finish(1, '', text);
  // Before 0.8.0 native solc printed these as JSON strings inside the JSON.
  const stringify = mi < 8 ? (v) => JSON.stringify(v) : (v) => v;
  const get = (obj, dotted) => dotted.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
  const result = { contracts: {}, version: solc.version() };
  for (const [file, contracts] of Object.entries(out.contracts || {})) {
    for (const [name, c] of Object.entries(contracts)) {
      const entry = {};
      for (const key of wanted) {
        if (!SELECTION[key]) continue;
        let v = get(c, SELECTION[key][0]);
        if (v === undefined) continue;
        if (['abi', 'userdoc', 'devdoc', 'storage-layout'].includes(key)) v = stringify(v);
        entry[key] = v;
      }
      result.contracts[`${file}:${name}`] = entry;
    }
  }
  const ids = Object.entries(out.sources || {}).sort((a, b) => a[1].id - b[1].id);
  result.sourceList = ids.map(([f]) => f);
  if (wanted.includes('ast')) {
    // `ast` meant the legacy AST until 0.8.10 unless compact-format was asked for.
    const compact = wanted.includes('compact-format') || mi > 8 || (mi === 8 && pa >= 10);
    result.sources = {};
    for (const [f, s] of ids) result.sources[f] = { AST: compact || !s.legacyAST ? s.ast : s.legacyAST };
  }
  return finish(0, JSON.stringify(result), text);
}

// `--serve`: a SolSentry extension. Loads the compiler once and answers standard-JSON requests
// read from stdin, one JSON line each ({"input": {...}, "base": "/dir"}), with a length line and
// the output. solc-js is slow to load and its JIT warms up over repeated compiles: a resident
// compiler is several times faster than one process per file.
function serve(solc) {
  const readline = require('readline');
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', (line) => {
    let out;
    let failed = false;
    try {
      const req = JSON.parse(line);
      out = solc.compile(JSON.stringify(req.input),
        makeReader({ basePath: req.base, includePaths: req.include || [], allow: req.allow || [req.base],
          exactAllow: true }));
    } catch (e) {
      failed = true;
      out = JSON.stringify({ errors: [{ severity: 'error', type: 'SolSentryWrapperError', component: 'wrapper',
        message: String(e && e.message || e), formattedMessage: String(e && e.message || e) }] });
    }
    // An exception that unwound through soljson (a stack overflow) can leave it broken for every
    // later compile: answer, then exit, so that the next compile gets a fresh compiler.
    process.stdout.write(`${Buffer.byteLength(out)}\n${out}`, failed ? () => process.exit(0) : undefined);
  });
  rl.on('close', () => process.exit(0));
}

function main() {
  if (args.length === 1 && args[0] === '--serve') {
    let solc;
    try { solc = require(runtime)(require(path.join(versionDir, 'soljson.js'))); }
    catch (e) { return finish(1, '', `Error: cannot load solc-js from ${versionDir}: ${e.message}`); }
    return serve(solc);
  }
  let opts;
  try { opts = parseArgs(args); } catch (e) { return usage(e.message); }
  let solc;
  try {
    solc = require(runtime)(require(path.join(versionDir, 'soljson.js')));
  } catch (e) {
    return finish(1, '', `Error: cannot load solc-js from ${versionDir}: ${e.message}`);
  }
  if (opts.version) {
    return finish(0, `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  }
  if (opts.standardJson) {
    const input = fs.readFileSync(0, 'utf8');
    return finish(0, solc.compile(input, makeReader(opts)));
  }
  if (opts.combined) {
    if (opts.files.length === 0) return usage('no input files given');
    return combined(solc, opts);
  }
  return usage('nothing to do');
}

main();
