#!/usr/bin/env node
// The Karta CLI as an npm package: finds Java 17 or newer (JAVA_HOME, else `java` on PATH) and
// runs the bundled jar with the arguments given, passing its exit code on.
'use strict';

const { spawn, spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const jar = path.join(__dirname, '..', 'lib', 'karta-cli.jar');
const exe = process.platform === 'win32' ? 'java.exe' : 'java';

function fail(message) {
  process.stderr.write('karta: ' + message + '\n');
  process.exit(1);
}

function isFile(file) {
  try {
    return fs.statSync(file).isFile();
  } catch (e) {
    return false;
  }
}

function findJava() {
  if (process.env.JAVA_HOME) {
    const java = path.join(process.env.JAVA_HOME, 'bin', exe);
    if (isFile(java)) return java;
  }
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (dir && path.isAbsolute(dir) && isFile(path.join(dir, exe))) return path.join(dir, exe);
  }
  return null;
}

/** The major version of `java`: "1.8.0_392" is 8, "17.0.15" is 17; 0 when unknown. */
function javaMajor(java) {
  const answer = spawnSync(java, ['-version'], { encoding: 'utf8' });
  const match = /version "([^"]+)"/.exec((answer.stderr || '') + (answer.stdout || ''));
  if (!match) return 0;
  const parts = match[1].split('.');
  return parseInt(parts[0] === '1' ? parts[1] : parts[0], 10) || 0;
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch (e) {
    return -1;
  }
}

// git's credential helper (`karta git-credential get|store|erase`, set up by `karta init`) runs on
// every push and fetch: lib/karta-credential.sh, the installed launcher's shell helper, answers it
// without Java when bash is there. It exits 10, having printed nothing, when only Java can answer
// exactly; Java is then given the request the shim read for it.
const args = process.argv.slice(2);
let credentialRequest = null;
if (args.length === 2 && args[0] === 'git-credential' && ['get', 'store', 'erase'].includes(args[1])) {
  credentialRequest = fs.readFileSync(0);
  const script = path.join(__dirname, '..', 'lib', 'karta-credential.sh');
  if (process.platform !== 'win32' && isFile(script)) {
    const shell = spawnSync('bash', [script, args[1]], { input: credentialRequest, stdio: ['pipe', 'inherit', 'inherit'] });
    if (!shell.error && shell.status === 0) process.exit(0);
  }
}

const java = findJava();
if (!java) {
  fail("Java 17 or newer is needed and none was found: install one (e.g. 'apt-get install " +
    "openjdk-17-jre-headless' or 'brew install openjdk@17') or set JAVA_HOME");
}
if (!isFile(jar)) fail(jar + ' is missing; reinstall with npm install -g @karta/cli');

// Class-data sharing, as the shell launcher does it: the first run records the classes a typical
// command loads into an archive in the user's cache, which later runs map instead of loading them
// again. An archive fits one jar and one JVM: one folder per pair, remade when either is newer.
// The Java version is checked (a JVM start) only when that folder is new.
const cacheRoot = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
const id = crypto.createHash('sha256').update(java + '\n' + jar).digest('hex').slice(0, 16);
const cdsDir = path.join(cacheRoot, 'karta', 'npm-cds-' + id);
const checked = path.join(cdsDir, 'java-checked');
const archive = path.join(cdsDir, 'karta-cli.jsa');
if (mtime(checked) < 0 || mtime(java) > mtime(checked)) {
  const major = javaMajor(java);
  if (major < 17) {
    fail('Java 17 or newer is needed, but ' + java + ' is version ' + (major || 'unknown') +
      ': install a newer one or point JAVA_HOME at it');
  }
  try {
    fs.mkdirSync(cdsDir, { recursive: true });
    fs.writeFileSync(checked, '');
    fs.rmSync(archive, { force: true });
  } catch (e) {
    // An unwritable cache only costs the faster start.
  }
}

// C1 only, the serial collector, no perf-data file: a short run gains nothing from C2, G1's
// threads or hsperfdata.
const options = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-XX:-UsePerfData'];
const quiet = ['-Xlog:cds=off', '-Xlog:cds+dynamic=off'];
if (mtime(archive) >= 0 && mtime(jar) > mtime(archive)) fs.rmSync(archive, { force: true });
if (mtime(archive) < 0 && mtime(checked) >= 0) {
  // Train once on typical commands against a canned loopback server (StartUpTraining: HTTP, JSON,
  // tables, an error answer; about a second). Written aside, then moved, so that two first runs
  // at once never leave half an archive.
  const aside = archive + '.' + process.pid;
  spawnSync(java, [...options, '-XX:ArchiveClassesAtExit=' + aside, ...quiet, '-cp', jar, 'dev.karta.cli.StartUpTraining'], {
    stdio: 'ignore',
  });
  try {
    fs.renameSync(aside, archive);
  } catch (e) {
    // No archive this time; the next run tries again.
  }
}
if (mtime(archive) >= 0) options.push('-XX:SharedArchiveFile=' + archive, ...quiet);

const extra = (process.env.KARTA_CLI_JAVA_OPTS || '').split(/\s+/).filter(Boolean);
const child = spawn(java, [...options, ...extra, '-jar', jar, ...args], {
  stdio: [credentialRequest === null ? 'inherit' : 'pipe', 'inherit', 'inherit'],
  // Lets the CLI name this launcher, e.g. in the git credential helper that `karta init` configures.
  env: { ...process.env, KARTA_LAUNCHER: process.argv[1] },
});
if (credentialRequest !== null) child.stdin.end(credentialRequest);
// Ctrl-C reaches Java too (same process group), which decides how to stop; a kill is passed on.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('error', (e) => fail('could not run ' + java + ': ' + e.message));
child.on('exit', (code, signal) => {
  process.exit(code !== null ? code : 128 + (os.constants.signals[signal] || 1));
});
