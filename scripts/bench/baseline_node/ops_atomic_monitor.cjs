#!/usr/bin/env node
// The seed's heartbeat, re-created from its design document
// (../shared/seeds/001_*.txt, "ops_atomic_monitor.cjs") as the benchmark's
// baseline: the checks in sequence with the `redis` and `pg` npm clients,
// fetch for the APIs and one `launchctl list`, a consecutive-failure counter
// in a JSON state file, log lines, and a markdown report. Like the seed it
// writes no history and no events and sends nothing unless 3 runs failed.
//
// Environment: ROOT (folder holding g/), REDIS_URL, DATABASE_URL,
// API_URLS (space-separated "name=url"), LABELS (space-separated).
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { createClient } = require('redis');
const { Client } = require('pg');

const ROOT = process.env.ROOT || process.cwd();
const REPORTS = path.join(ROOT, 'g', 'reports', 'ops_atomic');
const STATE = path.join(ROOT, 'g', 'state', 'ops_atomic_monitor.json');
const THRESHOLD = 3;
const started = Date.now();

function log(level, msg) {
  console.log(`[${new Date().toISOString()}] [${level}] ${msg}`);
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function checkRedis() {
  log('INFO', 'Checking Redis connectivity...');
  const client = createClient({ url: process.env.REDIS_URL, socket: { connectTimeout: 3000, reconnectStrategy: false } });
  client.on('error', () => {});
  try {
    await withTimeout(client.connect(), 3000, 'Redis');
    const pong = await withTimeout(client.ping(), 3000, 'Redis');
    if (pong !== 'PONG') throw new Error(`unexpected answer ${pong}`);
    log('INFO', '✅ Redis: OK');
    return { name: 'Redis', status: 'ok', message: 'PONG' };
  } catch (e) {
    log('ERROR', '❌ Redis: FAILED');
    return { name: 'Redis', status: 'fail', message: `Redis not responding: ${e.message}` };
  } finally {
    try { await client.disconnect(); } catch (_) { /* not connected */ }
  }
}

async function checkDatabase() {
  log('INFO', 'Checking database responsiveness...');
  const client = new Client({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 5000, query_timeout: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    log('INFO', '✅ Database: OK');
    return { name: 'Database', status: 'ok', message: 'SELECT 1' };
  } catch (e) {
    log('ERROR', '❌ Database: FAILED');
    return { name: 'Database', status: 'fail', message: `Database not responding: ${e.message}` };
  } finally {
    try { await client.end(); } catch (_) { /* not connected */ }
  }
}

async function checkApis() {
  log('INFO', 'Checking API endpoints...');
  const out = [];
  for (const spec of (process.env.API_URLS || '').split(' ').filter(Boolean)) {
    const at = spec.indexOf('=');
    const name = spec.slice(0, at);
    const url = spec.slice(at + 1);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      await res.text();
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      log('INFO', `✅ ${name}: OK`);
      out.push({ name, status: 'ok', message: `HTTP ${res.status}` });
    } catch (e) {
      log('WARN', `⚠️  ${name}: WARN (may be down)`);
      out.push({ name, status: 'warn', message: `Endpoint not responding: ${e.message}` });
    }
  }
  return out;
}

function checkLaunchAgents() {
  log('INFO', 'Checking critical LaunchAgents...');
  let list = '';
  try {
    list = execFileSync('launchctl', ['list'], { encoding: 'utf8', timeout: 5000 });
  } catch (e) {
    log('WARN', `launchctl list failed: ${e.message}`);
  }
  return (process.env.LABELS || '').split(' ').filter(Boolean).map((label) => {
    const loaded = list.split('\n').some((line) => line.split('\t')[2] === label);
    log(loaded ? 'INFO' : 'ERROR', `${loaded ? '✅' : '❌'} ${label}: ${loaded ? 'Loaded' : 'Not loaded'}`);
    return { name: label, status: loaded ? 'ok' : 'fail', message: loaded ? 'LaunchAgent loaded' : 'LaunchAgent not loaded' };
  });
}

function readState() {
  try {
    return JSON.parse(fs.readFileSync(STATE, 'utf8'));
  } catch (_) {
    return { consecutiveFailures: 0, lastRun: null };
  }
}

function emoji(status) {
  return status === 'ok' ? '✅' : status === 'warn' ? '⚠️' : '❌';
}

function report(ts, overall, duration, sections) {
  const icon = { HEALTHY: '✅', WARNINGS: '⚠️', CRITICAL: '❌' }[overall];
  let md = `# OPS-Atomic Monitor Heartbeat\n\n**Timestamp:** ${ts}\n**Status:** ${icon} ${overall}\n**Duration:** ${duration}ms\n\n---\n\n## Health Checks\n`;
  for (const [title, results] of sections) {
    md += `\n### ${title}\n`;
    for (const r of results) md += `- **${r.name}:** ${emoji(r.status)} ${r.message}\n`;
  }
  md += '\n---\n\n## Summary\n';
  md += overall === 'CRITICAL' ? '🔴 **CRITICAL ISSUES DETECTED** - Immediate attention required\n'
    : overall === 'WARNINGS' ? '🟡 **WARNINGS** - Some services need attention\n'
      : '🟢 **ALL SYSTEMS OPERATIONAL**\n';
  return md;
}

async function main() {
  log('INFO', '=== OPS-Atomic Monitor Starting ===');
  const redis = await checkRedis();
  const db = await checkDatabase();
  const apis = await checkApis();
  const agents = checkLaunchAgents();
  const all = [redis, db, ...apis, ...agents];
  const overall = all.some((r) => r.status === 'fail') ? 'CRITICAL' : all.some((r) => r.status === 'warn') ? 'WARNINGS' : 'HEALTHY';

  const state = readState();
  state.consecutiveFailures = overall === 'CRITICAL' ? state.consecutiveFailures + 1 : 0;
  state.lastRun = new Date().toISOString();
  fs.mkdirSync(path.dirname(STATE), { recursive: true });
  fs.writeFileSync(STATE, JSON.stringify(state, null, 2));
  if (state.consecutiveFailures >= THRESHOLD) log('WARN', 'Threshold reached: a Discord alert would be sent');

  const ts = new Date().toISOString();
  const name = `heartbeat_${ts.slice(0, 19).replace('T', '_').replace(/:/g, '-')}.md`;
  fs.mkdirSync(REPORTS, { recursive: true });
  fs.writeFileSync(path.join(REPORTS, name), report(ts, overall, Date.now() - started,
    [['Redis', [redis]], ['Database', [db]], ['API Endpoints', apis], ['LaunchAgents', agents]]));
  log('INFO', `Report generated: ${name}`);
  log('INFO', `=== Monitor Complete: ${{ HEALTHY: '✅', WARNINGS: '⚠️', CRITICAL: '❌' }[overall]} ${overall} ===`);
  process.exitCode = overall === 'CRITICAL' ? 2 : overall === 'WARNINGS' ? 1 : 0;
}

main().catch((e) => {
  log('ERROR', `Monitor failed: ${e.stack || e}`);
  process.exitCode = 3;
});
