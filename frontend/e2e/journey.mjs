#!/usr/bin/env node
// End-to-end journey through the UI in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core; no browser is ever downloaded).
//
//   log in → create a Keras model from the template → configuration → deploy for training →
//   send digits with the datasources library → watch the result finish with charts →
//   deploy inference → send records → see live predictions on the visualization page;
//   edit the model and save it; Swagger UI at /api/docs/; re-run the result, then the runs table
//   and the comparison of both runs (screenshots for docs/ui.md: docs/img/runs.png, compare.png);
//   the main pages on a 390×844 phone viewport without horizontal scroll;
//   and user management: the admin creates, disables, enables a user and resets its password,
//   creates an API token (shown once; it works) and revokes it (it stops working); at the end the
//   new user logs in, finds no Users page and changes their own password.
//
// E2E_ONLY=accounts walks only the account and user-management steps (no training).
// By default it starts its own platform (`kafkaml up` in a temporary data dir, free ports).
// To use a running one instead: KAFKAML_URL, KAFKAML_USER, KAFKAML_PASSWORD, KAFKA_BOOTSTRAP_SERVERS.
// Screenshots of every page: <repo>/test-artifacts/ui/ (E2E_ARTIFACTS to change).
// Fails (exit 1) on any failed step and on any browser console error, naming the step.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const artifacts = resolve(process.env.E2E_ARTIFACTS ?? join(repo, 'test-artifacts', 'ui'));
const python = process.env.PYTHON ?? join(repo, '.venv', 'bin', 'python');
const kafkamlBin = process.env.KAFKAML_BIN ?? join(repo, '.venv', 'bin', 'kafkaml');
const TRAIN_TIMEOUT = Number(process.env.E2E_TRAIN_TIMEOUT ?? 300) * 1000;
const chromePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ONLY_ACCOUNTS = process.env.E2E_ONLY === 'accounts';

const consoleErrors = [];
let stack = null; // { proc, dataDir, log }
let context = null;
let page = null;
let shot = 0;
const t0 = Date.now();

function say(msg) {
  console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}`);
}

async function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

async function startStack() {
  const dataDir = mkdtempSync(join(tmpdir(), 'kafkaml-e2e-'));
  const [port, executorPort, brokerPort] = [await freePort(), await freePort(), await freePort()];
  const args = [
    'up',
    '--data-dir',
    dataDir,
    '--port',
    String(port),
    '--executor-port',
    String(executorPort),
    '--broker-port',
    String(brokerPort),
  ];
  say(`starting: kafkaml ${args.join(' ')}`);
  const env = { ...process.env };
  delete env.KAFKA_BOOTSTRAP_SERVERS;
  const proc = spawn(kafkamlBin, args, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  const ready = new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`kafkaml up was not ready in 240 s:\n${log.slice(-3000)}`)), 240_000);
    const onData = (chunk) => {
      log += chunk.toString();
      if (/Kafka-ML is up/.test(log)) {
        clearTimeout(timer);
        res();
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`kafkaml up exited with ${code}:\n${log.slice(-3000)}`));
    });
  });
  stack = {
    proc,
    dataDir,
    get log() {
      return log;
    },
  };
  await ready;
  const password = /password:\s*(\S+)/.exec(log)?.[1];
  if (!password) throw new Error(`no admin password in the output of kafkaml up:\n${log}`);
  return { url: `http://127.0.0.1:${port}`, user: 'admin', password, bootstrap: `127.0.0.1:${brokerPort}` };
}

async function stopStack() {
  if (!stack) return;
  const { proc, dataDir } = stack;
  if (proc.exitCode === null) {
    try {
      process.kill(-proc.pid, 'SIGINT');
    } catch {
      /* gone */
    }
    await new Promise((res) => {
      const timer = setTimeout(() => {
        try {
          process.kill(-proc.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        res();
      }, 30_000);
      proc.on('exit', () => {
        clearTimeout(timer);
        res();
      });
    });
  }
  // Workload supervisors this run's platform started (their command line names our data dir)
  // may outlive `kafkaml up`: end them and their replicas, by pid.
  const leftovers = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(dataDir)) leftovers.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  const children = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      if (leftovers.includes(ppid)) children.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  for (const pid of [...leftovers, ...children]) {
    try {
      process.kill(pid, 'SIGKILL');
      say(`  ended leftover process ${pid}`);
    } catch {
      /* gone */
    }
  }
  if (!process.env.E2E_KEEP) rmSync(dataDir, { recursive: true, force: true });
}

function componentLogs() {
  if (!stack) return '';
  const dir = join(stack.dataDir, 'logs');
  let out = '';
  for (const name of ['web', 'celery', 'control_logger', 'executor']) {
    const f = join(dir, `${name}.log`);
    if (existsSync(f)) out += `\n----- ${name}.log (tail) -----\n${readFileSync(f, 'utf8').split('\n').slice(-25).join('\n')}`;
  }
  return out;
}

async function screenshot(name) {
  shot++;
  const file = join(artifacts, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  say(`  screenshot ${file}`);
}

/** A screenshot for the docs (docs/img/<name>.png), kept in the repository. */
async function docScreenshot(name, fullPage = false) {
  const file = join(repo, 'docs', 'img', `${name}.png`);
  mkdirSync(dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage });
  say(`  docs screenshot ${file}`);
}

/** Open a page of the app and wait until it has rendered: its heading, no loading spinner left. */
async function openPage(url) {
  await page.goto(url);
  await page.locator('main h1').first().waitFor();
  await page
    .locator('main .loading')
    .first()
    .waitFor({ state: 'detached', timeout: 20_000 })
    .catch(() => undefined);
  await page.waitForTimeout(400); // charts and editors size themselves to the viewport
}

/** True when the route exists in this build of the UI (not the catch-all “Nothing here.”). */
async function routeExists(url) {
  await page.goto(url);
  await page.locator('main h1, main .card').first().waitFor();
  return !(await page.getByText('Nothing here.').count());
}

/** Fails when the page is wider than the viewport (a horizontal scroll bar on a phone). */
async function assertNoHorizontalScroll(what) {
  const { scrollWidth, innerWidth, culprit } = await page.evaluate(() => {
    const vw = window.innerWidth;
    // The outermost element sticking out on the right (its children overflow with it), to name
    // in the failure, with the path down to it.
    const name = (el) =>
      `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${typeof el.className === 'string' && el.className.trim() ? `.${el.className.trim().split(/\s+/).join('.')}` : ''}`;
    let worst = null;
    for (const el of document.querySelectorAll('main *, header *, nav *')) {
      const r = el.getBoundingClientRect();
      if (
        r.right <= vw + 1 ||
        (el.parentElement && el.parentElement.getBoundingClientRect().right > vw + 1 && el.parentElement.closest('main, header, nav'))
      )
        continue;
      const path = [];
      for (let e = el; e && e !== document.body; e = e.parentElement) path.unshift(name(e));
      worst = { right: Math.round(r.right), tag: path.slice(-4).join(' > ') };
      break;
    }
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth: vw, culprit: worst };
  });
  if (scrollWidth > innerWidth) {
    await screenshot(`phone-overflow-${what.replace(/\W+/g, '-')}`);
    throw new Error(
      `${what} scrolls sideways on a ${innerWidth}px phone: ${scrollWidth}px wide${culprit ? ` (e.g. ${culprit.tag} reaches ${culprit.right}px)` : ''}`,
    );
  }
}

/** GET a JSON API path with the browser's session, outside the page (no console noise). */
async function apiJson(U, path) {
  const r = await context.request.get(U(path), { headers: { Accept: 'application/json' } });
  if (!r.ok()) throw new Error(`GET ${path} answered ${r.status()}`);
  return r.json();
}

async function step(name, fn) {
  say(`STEP ${name}`);
  const before = consoleErrors.length;
  try {
    await fn();
  } catch (err) {
    say(`STEP FAILED: ${name}\n${err?.stack ?? err}`);
    try {
      await page.screenshot({ path: join(artifacts, `FAILED-${name.replace(/\W+/g, '-')}.png`), fullPage: true });
    } catch {
      /* page gone */
    }
    throw Object.assign(new Error(`step “${name}” failed: ${err?.message ?? err}`), { step: name });
  }
  if (consoleErrors.length > before) {
    throw Object.assign(new Error(`step “${name}”: browser console errors:\n  ${consoleErrors.slice(before).join('\n  ')}`), {
      step: name,
    });
  }
}

function runPython(code, env = {}, timeoutMs = 180_000) {
  return new Promise((res, rej) => {
    const proc = spawn(python, ['-c', code], { cwd: repo, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      rej(new Error(`python timed out:\n${out}`));
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) res(out);
      else rej(new Error(`python exited with ${code}:\n${out}`));
    });
  });
}

const SEND_DIGITS = `
import os
from sklearn.datasets import load_digits
from datasources import RawSink
d = load_digits()
sink = RawSink(bootstrap_servers=os.environ["BOOTSTRAP"], topic=os.environ["TOPIC"],
               deployment_id=int(os.environ["DEPLOYMENT"]), description="digits (e2e)",
               data_type="float32", label_type="uint8", data_reshape="64",
               validation_rate=0.1, test_rate=0.1)
sink.send_batch(d.data.astype("float32") / 16.0, d.target.astype("uint8"))
print(sink.close())
`;

const SEND_RECORDS = `
import os, time
import numpy as np
from confluent_kafka import Producer
from sklearn.datasets import load_digits
x = (load_digits().data.astype("float32") / 16.0)
p = Producer({"bootstrap.servers": os.environ["BOOTSTRAP"]})
end = time.time() + float(os.environ.get("SECONDS", "25"))
i = 0
while time.time() < end:
    for _ in range(20):
        p.produce(os.environ["TOPIC"], x[i % len(x)].tobytes())
        i += 1
    p.flush(5)
    time.sleep(0.25)
print("sent", i)
`;

const COUNT_OUTPUT = `
import os
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": os.environ["BOOTSTRAP"], "group.id": os.environ["GROUP"], "enable.auto.commit": False})
md = c.list_topics(os.environ["TOPIC"], timeout=10).topics.get(os.environ["TOPIC"])
parts = list(md.partitions) if md else []
c.assign([TopicPartition(os.environ["TOPIC"], p, 0) for p in parts])
n, first = 0, None
for _ in range(10):
    for m in c.consume(1000, 1.0):
        if not m.error():
            n += 1
            first = first or m.value()[:120]
print(n, "records in partitions", parts, "first:", first)
`;

/** The topic the deployment page's snippet suggests (lib/snippets.ts defaultTopic). */
function trainingTopic(kafka, deploymentId) {
  return `${kafka.topic_prefix}train-${deploymentId}`;
}

/** POST JSON to the API with the page's session and CSRF token; returns { status, body }. */
async function apiPost(path, body) {
  return page.evaluate(
    async ([p, b]) => {
      const token =
        document.cookie
          .split('; ')
          .find((c) => c.startsWith('csrftoken='))
          ?.slice(10) ?? '';
      const r = await fetch(p, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRFToken': decodeURIComponent(token) },
        body: JSON.stringify(b),
      });
      return { status: r.status, body: await r.json().catch(() => null) };
    },
    [path, body],
  );
}

/** A PyTorch edge → cloud chain over the 64 digit values; both end in nn.Linear (logits). */
const CHAIN_IMPORTS = 'import torch\nfrom torch import nn\nfrom ignite.metrics import Accuracy, Loss\n';
const CHAIN_EDGE = `
class Edge(nn.Module):
    input_shape = (64,)

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(64, 32)
        self.out = nn.Linear(32, 10)

    def forward(self, x):
        h = torch.relu(self.hidden(x.flatten(1)))
        return h, self.out(h)

    def loss_fn(self):
        return nn.CrossEntropyLoss()

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=0.01)

    def metrics(self):
        return {"loss": Loss(self.loss_fn()), "accuracy": Accuracy()}

model = Edge()
`;
const CHAIN_CLOUD = `
class Cloud(nn.Module):
    input_shape = (32,)

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 10))

    def forward(self, x):
        return self.net(x)

    def loss_fn(self):
        return nn.CrossEntropyLoss()

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=0.01)

    def metrics(self):
        return {"accuracy": Accuracy()}

model = Cloud()
`;

async function stopInference(id) {
  if (!page || !id) return;
  await page
    .evaluate(async (iid) => {
      const token =
        document.cookie
          .split('; ')
          .find((c) => c.startsWith('csrftoken='))
          ?.slice(10) ?? '';
      await fetch(`/api/v1/inferences/${iid}/stop/`, { method: 'POST', headers: { 'X-CSRFToken': decodeURIComponent(token) } });
    }, id)
    .catch(() => undefined);
}

/** The user's Kafka namespace, as backend/kafkaml/topics/namespace.py derives it: characters
 *  outside [A-Za-z0-9-] become `_xx` per UTF-8 byte; too long: `_u<id>`; then a dot. */
function derivedTopicPrefix(username, userId) {
  let name = '';
  for (const ch of username) {
    if (/^[A-Za-z0-9-]$/.test(ch)) name += ch;
    else for (const b of new TextEncoder().encode(ch)) name += `_${b.toString(16).padStart(2, '0')}`;
  }
  return `${name && name.length <= 64 ? name : `_u${userId}`}.`;
}

/** The signed-in user's Kafka access: GET /api/v1/auth/kafka/ when the server has it (asked
 *  with the browser's cookies but outside the page, so a 404 is no console error), else the
 *  prefix derived from the username. Every topic and consumer group the journey uses starts
 *  with `topic_prefix` / `group_prefix`: the platform refuses any other. */
async function kafkaAccessOf(U, username) {
  const answer = await context.request.get(U('/api/v1/auth/kafka/'), { headers: { Accept: 'application/json' } }).catch(() => null);
  if (answer?.ok()) {
    const access = await answer.json();
    if (access?.topic_prefix) return { ...access, group_prefix: access.group_prefix || access.topic_prefix, fromServer: true };
  }
  const me = await context.request
    .get(U('/api/v1/auth/me/'), { headers: { Accept: 'application/json' } })
    .then((r) => r.json())
    .catch(() => ({}));
  const prefix = derivedTopicPrefix(username, me.id ?? 0);
  return { secured: false, notice: '', topic_prefix: prefix, group_prefix: prefix, fromServer: false };
}

/** GET an API path from this process (not the browser: an expected 401 there is a console error). */
async function apiStatus(url, token) {
  const r = await fetch(url, { headers: { Accept: 'application/json', Authorization: `Token ${token}` } });
  return r.status;
}

async function logIn(user, password) {
  await page.getByLabel('Username', { exact: true }).waitFor();
  await page.getByLabel('Username', { exact: true }).fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('username').getByText(user).waitFor();
}

async function accountSteps(target, U, suffix, newUser, kafka) {
  await step('users: create, disable, enable, reset a password', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.getByTestId(`user-${target.user}`).waitFor();
    const me = await page.evaluate(() => fetch('/api/v1/auth/me/').then((r) => r.json()));
    if (me.single_user_mode) {
      // The platform refuses a second user here: the page must say why and offer no form.
      await page.getByTestId('single-user').waitFor();
      if (!(await page.getByRole('button', { name: 'Create user' }).isDisabled()))
        throw new Error('single-user mode, yet “Create user” is enabled');
      await screenshot('users-single-user-mode');
      say('  single-user mode on this machine: user creation, disable/enable and the second user are skipped');
      newUser.skipped = true;
      return;
    }
    await screenshot('users');
    await page.getByLabel('Username', { exact: true }).fill(newUser.name);
    await page.getByLabel('Password', { exact: true }).fill(newUser.password);
    await page.getByRole('button', { name: 'Create user' }).click();
    const row = page.getByTestId(`user-${newUser.name}`);
    await row.waitFor();
    await row.locator('.badge', { hasText: 'active' }).waitFor();
    await screenshot('users-created');
    page.once('dialog', (d) => d.accept());
    await row.getByRole('button', { name: 'Disable' }).click();
    await row.locator('.badge', { hasText: 'disabled' }).waitFor();
    await screenshot('users-disabled');
    await row.getByRole('button', { name: 'Enable' }).click();
    await row.locator('.badge', { hasText: 'active' }).waitFor();
    // The admin sets a new password for the user (the user logs in with it at the end).
    await row.getByRole('button', { name: 'Reset password' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('New password', { exact: true }).fill(newUser.reset);
    await dialog.getByLabel('Confirm', { exact: true }).fill(newUser.reset);
    await screenshot('users-reset-password');
    await dialog.getByRole('button', { name: 'Set password' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByText(`Password of ${newUser.name} reset.`).waitFor();
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot('phone-users');
    await page.setViewportSize({ width: 1366, height: 860 });
  });

  await step('account: create an API token, use it, revoke it', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account', exact: true }).click();
    await page.getByRole('heading', { name: 'Account' }).waitFor();
    await page.getByRole('heading', { name: 'Change password' }).waitFor();
    // The Kafka section: the topic prefix, and on an unsecured broker the notice saying so.
    const kafkaSection = page.getByTestId('kafka-access');
    const shownPrefix = (await kafkaSection.getByTestId('kafka-topic-prefix').textContent())?.trim();
    if (shownPrefix !== kafka.topic_prefix)
      throw new Error(`the Account page shows the topic prefix “${shownPrefix}”, the server says “${kafka.topic_prefix}”`);
    if (kafka.fromServer && !kafka.secured && kafka.notice) await kafkaSection.getByTestId('kafka-unsecured-notice').waitFor();
    const name = `e2e-${suffix}`;
    await page.getByLabel('Token name').fill(name);
    await page.getByRole('button', { name: 'Create token' }).click();
    const reveal = page.getByTestId('new-token');
    await reveal.waitFor();
    await reveal.getByText('you will not see it again').waitFor();
    const secret = (await reveal.locator('pre').textContent())?.trim() ?? '';
    if (secret.length < 20) throw new Error(`no token shown: “${secret}”`);
    const row = page.getByTestId(`token-${name}`);
    await row.waitFor();
    if ((await row.textContent()).includes(secret)) throw new Error('the token list shows the secret');
    await screenshot('account-token-created');
    const works = await apiStatus(U('/api/v1/auth/me/'), secret);
    if (works !== 200) throw new Error(`the new token does not work: GET /api/v1/auth/me/ answered ${works}`);
    await reveal.getByRole('button', { name: 'I have copied it' }).click();
    await reveal.waitFor({ state: 'detached' });
    if ((await page.content()).includes(secret)) throw new Error('the token is still on the page after “I have copied it”');
    page.once('dialog', (d) => d.accept());
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.waitFor({ state: 'detached' });
    const revoked = await apiStatus(U('/api/v1/auth/me/'), secret);
    if (revoked !== 401 && revoked !== 403) throw new Error(`a revoked token still answers ${revoked}`);
    await screenshot('account-token-revoked');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot('phone-account');
    await page.setViewportSize({ width: 1366, height: 860 });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Models', exact: true }).click();
    await page.getByRole('heading', { name: 'Models' }).waitFor();
  });
}

async function secondUserSteps(target, U, newUser) {
  if (newUser.skipped) return;
  await step('a non-staff user: no Users page, changes their own password', async () => {
    await page.goto(U('/login'));
    await logIn(newUser.name, newUser.reset);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Account', exact: true }).waitFor();
    if (await nav.getByRole('link', { name: 'Users', exact: true }).count()) throw new Error('a non-staff user sees the Users link');
    await page.goto(U('/users'));
    await page.getByTestId('staff-only').waitFor();
    await screenshot('users-staff-only');
    await nav.getByRole('link', { name: 'Account', exact: true }).click();
    await page.getByLabel('Current password', { exact: true }).fill(newUser.reset);
    await page.getByLabel('New password', { exact: true }).fill(newUser.password2);
    await page.getByLabel('Confirm new password', { exact: true }).fill(newUser.password2);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText(/Password changed/).waitFor();
    await page.getByText('No API tokens').waitFor();
    await screenshot('account-password-changed');
    await page.getByRole('button', { name: 'Log out' }).click();
    await logIn(newUser.name, newUser.password2);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Username').waitFor();
  });
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  if (!existsSync(chromePath)) throw new Error(`${chromePath} is missing: run .ci/install-browser.sh`);

  let target;
  if (process.env.KAFKAML_URL) {
    target = {
      url: process.env.KAFKAML_URL.replace(/\/$/, ''),
      user: process.env.KAFKAML_USER ?? 'admin',
      password: process.env.KAFKAML_PASSWORD,
      bootstrap: process.env.KAFKA_BOOTSTRAP_SERVERS,
    };
    if (!target.password || !target.bootstrap)
      throw new Error('with KAFKAML_URL set, give KAFKAML_PASSWORD and KAFKA_BOOTSTRAP_SERVERS too');
  } else {
    await step('start the platform', async () => {
      target = await startStack();
    });
  }
  say(`platform at ${target.url}, broker ${target.bootstrap}`);

  const profile = mkdtempSync(join(tmpdir(), 'kafkaml-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromePath,
    headless: true,
    viewport: { width: 1366, height: 860 },
    acceptDownloads: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(`${msg.text()} (${page.url()})`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`uncaught: ${err.message} (${page.url()})`));

  const U = (p) => target.url + p;
  const suffix = Date.now().toString(36);
  const modelName = `digits-net-${suffix}`;
  const newUser = {
    name: `e2e-user-${suffix}`,
    password: `Kml-${suffix}-first-Passphrase`,
    reset: `Kml-${suffix}-reset-Passphrase`,
    password2: `Kml-${suffix}-own-Passphrase`,
  };
  let modelId;
  let deploymentId;
  let resultId;
  let inference;
  let kafka; // the admin's Kafka access: topic prefix, secured or not

  try {
    await step('log in', async () => {
      await page.goto(U('/'));
      await page.getByLabel('Username').waitFor();
      await screenshot('login');
      await page.getByLabel('Username').fill(target.user);
      await page.getByLabel('Password').fill(target.password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByTestId('username').getByText(target.user).waitFor();
      await page.getByRole('heading', { name: 'Models' }).waitFor();
      await screenshot('models-empty');
      kafka = await kafkaAccessOf(U, target.user);
      say(
        `  Kafka topic prefix ${kafka.topic_prefix} (${kafka.fromServer ? (kafka.secured ? 'secured broker' : 'unsecured broker') : 'derived: no /api/v1/auth/kafka/ on this server'})`,
      );
    });

    await accountSteps(target, U, suffix, newUser, kafka);
    if (ONLY_ACCOUNTS) {
      await step('log out', async () => {
        await page.getByRole('button', { name: 'Log out' }).click();
        await page.getByLabel('Username').waitFor();
      });
      await secondUserSteps(target, U, newUser);
      if (consoleErrors.length) throw new Error(`browser console errors:\n  ${consoleErrors.join('\n  ')}`);
      say(`PASSED: the account journey (${shot} screenshots in ${artifacts})`);
      return 0;
    }

    await step('create a Keras model from the template', async () => {
      await page.getByRole('link', { name: 'New model' }).first().click();
      await page.getByRole('heading', { name: 'New model' }).waitFor();
      const useTemplate = page.getByRole('button', { name: /^Use .*Keras.*MNIST/i });
      await useTemplate.waitFor();
      await useTemplate.click();
      const code = page.locator('.editor').nth(1).locator('.cm-content');
      await code.getByText('Sequential').first().waitFor();
      await page.getByLabel('Name').fill(modelName);
      // The template is for 28x28 images; the digits are 8x8 = 64 values: adapt its input.
      const templates = await page.evaluate(() => fetch('/api/v1/models/templates/').then((r) => r.json()));
      const tpl = templates.find((t) => t.framework === 'tensorflow' && /mnist/i.test(t.name));
      if (!tpl) throw new Error('no Keras MNIST template in GET /api/v1/models/templates/');
      const adapted = tpl.code.replace(/shape=\(28,\s*28\)/, 'shape=(64,)');
      if (adapted === tpl.code) throw new Error('could not adapt the template input shape');
      await code.click();
      await page.keyboard.press('ControlOrMeta+a');
      await page.keyboard.press('Delete');
      await code.fill(adapted);
      await code.getByText('shape=(64,)').waitFor();
      await page.getByRole('button', { name: /Validate and create/ }).click();
      await page.getByTestId('validation-ok').waitFor({ timeout: 90_000 });
      await page.getByTestId('model-summary').waitFor();
      await screenshot('model-validated');
      await page.getByRole('link', { name: 'Models', exact: true }).click();
      await page.getByRole('link', { name: modelName }).waitFor();
      await screenshot('models-list');
    });

    await step('edit the model and save it', async () => {
      await page.getByRole('link', { name: modelName }).click();
      await page.waitForURL(/\/models\/\d+$/);
      modelId = Number(/models\/(\d+)/.exec(page.url())[1]);
      await page.getByRole('heading', { name: `Model: ${modelName}` }).waitFor();
      const description = `Digits, 8×8 inputs (edited ${suffix})`;
      await page.getByLabel('Description').fill(description);
      await page.getByRole('button', { name: 'Validate and save' }).click();
      await page.getByRole('button', { name: 'Validate and save' }).waitFor({ timeout: 90_000 });
      if (await page.getByTestId('validation-error').count())
        throw new Error(`saving the edit failed: ${await page.getByTestId('validation-error').textContent()}`);
      await page.getByTestId('validation-ok').waitFor();
      await page.getByTestId('model-summary').waitFor();
      const saved = await apiJson(U, `/api/v1/models/${modelId}/`);
      if (saved.description !== description) throw new Error(`the edit was not saved: the API has the description “${saved.description}”`);
      await screenshot('model-edited');
      await page.getByRole('link', { name: 'Models', exact: true }).click();
      await page.getByRole('link', { name: modelName }).waitFor();
    });

    await step('create a configuration', async () => {
      await page.getByRole('link', { name: 'Configurations' }).click();
      await page.getByLabel('Name').fill(`digits-conf-${suffix}`);
      await page.getByRole('group', { name: 'Models' }).getByLabel(new RegExp(modelName)).check();
      await page.getByRole('button', { name: 'Create configuration' }).click();
      await page.getByRole('heading', { name: new RegExp(`Configuration: digits-conf-${suffix}`) }).waitFor();
      await screenshot('configuration');
    });

    await step('deploy for training', async () => {
      await page.getByRole('link', { name: 'Deploy for training' }).click();
      await page.getByLabel('Fit arguments').fill('epochs=8');
      await page.getByLabel('Batch size').fill('32');
      // The template compiles itself: optimizer, learning rate, loss and metrics would be ignored.
      for (const label of ['Optimizer', 'Learning rate', 'Loss', 'Metrics']) {
        if (await page.getByLabel(label, { exact: true }).count())
          throw new Error(`the deploy form shows “${label}” for a model that compiles itself`);
      }
      await page.getByTestId('compile-from-code').waitFor();
      await screenshot('deploy-form');
      await page.getByRole('button', { name: 'Deploy', exact: true }).click();
      await page.waitForURL(/\/deployments\/\d+$/);
      deploymentId = Number(/deployments\/(\d+)/.exec(page.url())[1]);
      const snippet = page.getByTestId('send-data');
      await snippet.getByText(`deployment_id=${deploymentId}`).waitFor();
      await snippet.getByText(trainingTopic(kafka, deploymentId)).first().waitFor();
      if (kafka.fromServer && !kafka.secured && kafka.notice) await snippet.getByTestId('kafka-unsecured-notice').waitFor();
      await screenshot('deployment-send-data');
    });

    await step('send digits with the datasources library', async () => {
      const out = await runPython(SEND_DIGITS, {
        BOOTSTRAP: target.bootstrap,
        TOPIC: trainingTopic(kafka, deploymentId),
        DEPLOYMENT: String(deploymentId),
      });
      say(`  sink: ${out.trim().split('\n').pop()}`);
    });

    await step('see the training result finish with charts', async () => {
      await page.getByRole('link', { name: 'Open result' }).first().click();
      await page.waitForURL(/\/results\/\d+$/);
      resultId = Number(/results\/(\d+)/.exec(page.url())[1]);
      const status = page.getByTestId('result-status');
      await page.getByTestId('chart-loss').waitFor({ timeout: TRAIN_TIMEOUT });
      const progress = (await page.getByTestId('epochs-reported').textContent())?.trim();
      if (!/^\d+ \/ 8$/.test(progress ?? '')) throw new Error(`training progress reads “${progress}”, not “<n> / 8”`);
      const shown = (await status.textContent())?.trim();
      if (shown === 'deployed') throw new Error('the status says “deployed” while epochs arrive (expected “training”)');
      await screenshot('result-training');
      const deadline = Date.now() + TRAIN_TIMEOUT;
      for (;;) {
        const s = (await status.textContent())?.trim();
        if (s === 'finished') break;
        if (s === 'failed' || s === 'stopped') {
          const why = await page
            .getByTestId('failure')
            .textContent()
            .catch(() => '');
          throw new Error(`training ${s}: ${why}`);
        }
        if (Date.now() > deadline) throw new Error(`training still “${s}” after ${TRAIN_TIMEOUT / 1000} s`);
        await page.waitForTimeout(1000);
      }
      await page.getByTestId('final-metrics').waitFor();
      await page.locator('table.heatmap').waitFor();
      await page.getByRole('link', { name: /ONNX/ }).waitFor();
      await screenshot('result-finished');
    });

    await step('browse deployments and datasources', async () => {
      await page.getByRole('link', { name: 'Deployments & results' }).click();
      await page.getByRole('link', { name: `#${deploymentId}` }).waitFor();
      await screenshot('deployments');
      await page.getByRole('link', { name: 'Datasources' }).click();
      await page.getByText('digits (e2e)').first().waitFor();
      await screenshot('datasources');
    });

    await step('missing pages and API paths say "not found" properly', async () => {
      const before = consoleErrors.length;
      await page.goto(U('/deployments/999999'));
      await page.getByTestId('not-found').getByText('Deployment #999999 was not found').waitFor();
      await page.getByTestId('not-found').getByRole('link', { name: 'Back to deployments' }).waitFor();
      await page.goto(U('/results/999999'));
      await page.getByTestId('not-found').getByText('Result #999999 was not found').waitFor();
      await page.waitForTimeout(1500); // a websocket opened by mistake would have failed by now
      // The browser logs the API's own 404 answers as console errors; anything else still fails.
      const logged = consoleErrors.splice(before);
      const other = logged.filter((e) => !/status of 404/.test(e));
      if (other.length) throw new Error(`console errors on missing pages:\n  ${other.join('\n  ')}`);
      const health = await context.request.get(U('/api/v1/health/'));
      if (health.status() !== 404 || !health.headers()['content-type']?.startsWith('application/json')) {
        throw new Error(`/api/v1/health/ answered ${health.status()} ${health.headers()['content-type']}, not a JSON 404`);
      }
      // On a desktop viewport the sidebar is always shown: no ☰ button that would do nothing.
      if (await page.getByRole('button', { name: 'Menu' }).isVisible()) throw new Error('the ☰ menu button shows on a desktop viewport');
      await page.goto(U(`/results/${resultId}`));
    });

    await step('an inference whose input config does not fit the model is refused', async () => {
      await page.goto(U(`/results/${resultId}`));
      await page.getByRole('link', { name: 'Deploy for inference' }).click();
      await page.getByLabel('Input topic').waitFor();
      // the model takes 64 values; "7 7" gives 49: the worker would exit on every start
      await page.getByLabel('Input configuration (JSON)').fill('{"data_type": "float32", "data_reshape": "7 7"}');
      const before = consoleErrors.length;
      await page.getByRole('button', { name: 'Deploy inference' }).click();
      const field = page.locator('.field', { has: page.getByLabel('Input configuration (JSON)') });
      await field.getByText(/64 values/).waitFor();
      if (!/49/.test((await field.textContent()) ?? ''))
        throw new Error(`the refusal does not say what the config gives: ${await field.textContent()}`);
      // the browser logs the API's 400 answer itself; anything else still fails the step
      const other = consoleErrors.splice(before).filter((e) => !/status of 400/.test(e));
      if (other.length) throw new Error(`console errors:\n  ${other.join('\n  ')}`);
      await screenshot('inference-config-refused');
      const made = await apiJson(U, '/api/v1/inferences/?page_size=1');
      if (made.count) throw new Error('an inference was created despite the refusal');
    });

    await step('deploy inference', async () => {
      await page.goto(U(`/results/${resultId}`));
      await page.getByRole('link', { name: 'Deploy for inference' }).click();
      await page.getByLabel('Input topic').waitFor();
      for (const label of ['Input topic', 'Output topic']) {
        const topic = await page.getByLabel(label).inputValue();
        if (!topic.startsWith(kafka.topic_prefix))
          throw new Error(`${label} “${topic}” is not prefilled inside the prefix ${kafka.topic_prefix}`);
      }
      const cfg = await page.getByLabel('Input configuration (JSON)').inputValue();
      if (!/float32/.test(cfg)) throw new Error(`input configuration not prefilled from the datasource: ${cfg}`);
      await screenshot('inference-form');
      await page.getByRole('button', { name: 'Deploy inference' }).click();
      await page.waitForURL(/\/inferences/);
      const card = page.locator('[data-testid^="inference-"]').first();
      await card.waitFor();
      inference = await page.evaluate(() =>
        fetch('/api/v1/inferences/?page_size=1')
          .then((r) => r.json())
          .then((p) => p.results[0]),
      );
      const deadline = Date.now() + 120_000;
      while ((await card.locator('.badge').first().textContent())?.trim() !== 'running') {
        const s = (await card.locator('.badge').first().textContent())?.trim();
        if (s === 'failed') throw new Error(`inference failed: ${await card.textContent()}`);
        if (Date.now() > deadline) throw new Error(`inference still “${s}” after 120 s`);
        await page.waitForTimeout(1000);
      }
      await screenshot('inferences');
    });

    await step('see live predictions', async () => {
      // The page subscribes first, then records flow: everything sent after it opened shows up.
      await page.getByRole('link', { name: 'Visualize' }).first().click();
      await page.waitForURL(/\/visualization\?inference=/);
      await page.locator('.badge', { hasText: 'live' }).first().waitFor();
      const sender = runPython(SEND_RECORDS, { BOOTSTRAP: target.bootstrap, TOPIC: inference.input_topic, SECONDS: '45' }, 90_000);
      try {
        await page.getByTestId('current-class').waitFor({ timeout: 60_000 });
        await page.waitForFunction(() => Number(document.querySelector('[data-testid="predictions-seen"]')?.textContent) >= 20, null, {
          timeout: 60_000,
        });
      } catch (err) {
        // Say where the records stopped: the sender, the inference worker, or the page.
        say(`  sender: ${(await sender.catch((e) => e.message)).toString().trim().split('\n').slice(-3).join(' | ')}`);
        const info = await page.evaluate((id) => fetch(`/api/v1/inferences/${id}/`).then((r) => r.json()), inference.id);
        say(`  inference #${info.id} status ${info.status}, live ${JSON.stringify(info.live)}`);
        const logs = await page
          .evaluate((id) => fetch(`/api/v1/inferences/${id}/logs/`).then((r) => r.json()), inference.id)
          .catch(() => ({}));
        say(
          `  inference log tail:\n${String(logs.logs ?? '')
            .split('\n')
            .filter((l) => !/Connect to|brokers are down/.test(l))
            .slice(-15)
            .join('\n')}`,
        );
        const count = await runPython(
          COUNT_OUTPUT,
          { BOOTSTRAP: target.bootstrap, TOPIC: inference.output_topic, GROUP: `${kafka.group_prefix}e2e-count-${suffix}` },
          60_000,
        ).catch((e) => e.message);
        say(`  records on the output topic ${inference.output_topic}: ${count.trim()}`);
        throw err;
      }
      await screenshot('visualization-live');
      await page.goto(U('/inferences'));
      await page.getByTestId('live-metrics').first().waitFor();
      await page.waitForTimeout(3000);
      await screenshot('inferences-live');
      await sender;
    });

    await step('stop the inference', async () => {
      const card = page.locator(`[data-testid="inference-${inference.id}"]`);
      page.once('dialog', (d) => d.accept());
      await card.getByRole('button', { name: 'Stop' }).click();
      await card.locator('.badge', { hasText: /stopped/ }).waitFor({ timeout: 60_000 });
      inference.stopped = true;
      await screenshot('inference-stopped');
    });

    await step('a stopped inference reads stopped, on its card and its visualization', async () => {
      const card = page.locator(`[data-testid="inference-${inference.id}"]`);
      const reporting = (await card.getByTestId('replicas-reporting').textContent())?.trim();
      if (!/^0 \//.test(reporting ?? '')) throw new Error(`after Stop the card reads “${reporting}” replicas reporting`);
      await page.goto(U(`/visualization?inference=${inference.id}`));
      await page.getByTestId('inference-ended').getByText('This inference is stopped').waitFor();
      await page.waitForTimeout(1000);
      const text = (await page.locator('main, body').first().textContent()) ?? '';
      if (/Waiting for predictions|Listening from now on/.test(text)) throw new Error('the stopped inference still waits for predictions');
      if (await page.locator('.badge', { hasText: /^live$/ }).count()) throw new Error('the stopped inference shows a live badge');
      await screenshot('visualization-stopped');
    });

    await step('deploy an edge → cloud chain for inference as one action; early exit', async () => {
      const made = async (path, body) => {
        const r = await apiPost(path, body);
        if (r.status !== 201) throw new Error(`POST ${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
        return r.body;
      };
      const model = (name, code, extra = {}) =>
        made('/api/v1/models/', {
          name: `${name}-${suffix}`,
          framework: 'pytorch',
          imports: CHAIN_IMPORTS,
          code,
          distributed: true,
          ...extra,
        });
      const cloud = await model('cloud', CHAIN_CLOUD);
      const edge = await model('edge', CHAIN_EDGE, { upper_model: cloud.id });
      const conf = await made('/api/v1/configurations/', { name: `chain-${suffix}`, models: [edge.id] });
      const dep = await made('/api/v1/deployments/', { configuration: conf.id, batch_size: 32, training_kwargs: 'epochs=6' });
      await runPython(SEND_DIGITS, { BOOTSTRAP: target.bootstrap, TOPIC: trainingTopic(kafka, dep.id), DEPLOYMENT: String(dep.id) });
      const leader = dep.results.find((r) => r.chain_leader == null).id;
      const deadline = Date.now() + TRAIN_TIMEOUT;
      for (const r of dep.results) {
        for (;;) {
          const got = await apiJson(U, `/api/v1/results/${r.id}/`);
          if (got.status === 'finished') break;
          if (['failed', 'stopped'].includes(got.status)) throw new Error(`chain training ${got.status}: ${got.error}`);
          if (Date.now() > deadline) throw new Error(`chain training still “${got.status}”`);
          await page.waitForTimeout(2000);
        }
      }
      // the one action: on the chain's result, "Deploy chain for inference"
      await page.goto(U(`/results/${leader}`));
      await page.getByRole('link', { name: 'Deploy chain for inference' }).click();
      await page
        .getByTestId('chain-wiring')
        .getByText(/sends the records it is unsure about to cloud/)
        .waitFor();
      await page.getByLabel(/^Limit of edge/).fill('0.95');
      await screenshot('chain-inference-form');
      await page.getByRole('button', { name: /Deploy chain/ }).click();
      await page.waitForURL(/\/inferences/);
      const chain = (await apiJson(U, '/api/v1/inferences/?page_size=2')).results.reverse(); // edge first
      inference.chain = chain.map((i) => i.id);
      if (chain[1].input_topic !== chain[0].upper_topic)
        throw new Error(`the cloud reads ${chain[1].input_topic}, the edge sends up to ${chain[0].upper_topic}`);
      for (const i of chain) {
        const badge = page.locator(`[data-testid="inference-${i.id}"] .badge`).first();
        const until = Date.now() + 120_000;
        while ((await badge.textContent())?.trim() !== 'running') {
          if ((await badge.textContent())?.trim().startsWith('failed')) throw new Error(`chain inference #${i.id} failed`);
          if (Date.now() > until) throw new Error(`chain inference #${i.id} is not running`);
          await page.waitForTimeout(1000);
        }
      }
      await screenshot('chain-inferences');
      // predictions of both sub-models arrive on the one output topic; confidences are probabilities
      await page.goto(U(`/visualization?inference=${chain[0].id}`));
      await page.locator('.badge', { hasText: 'live' }).first().waitFor();
      const sender = runPython(SEND_RECORDS, { BOOTSTRAP: target.bootstrap, TOPIC: chain[0].input_topic, SECONDS: '30' }, 90_000);
      await page.getByTestId('current-class').waitFor({ timeout: 60_000 });
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="predictions-seen"]')?.textContent) >= 20, null, {
        timeout: 60_000,
      });
      const confidence = Number(/confidence (-?[\d.]+)%/.exec((await page.getByTestId('current-class').textContent()) ?? '')?.[1]);
      if (!(confidence >= 0 && confidence <= 100)) throw new Error(`the confidence reads ${confidence}%`);
      await screenshot('chain-visualization');
      await sender;
      const count = async (topic) =>
        Number(
          (
            await runPython(
              COUNT_OUTPUT,
              { BOOTSTRAP: target.bootstrap, TOPIC: topic, GROUP: `${kafka.group_prefix}e2e-chain-${suffix}-${topic.length}` },
              60_000,
            )
          )
            .trim()
            .split(' ')[0],
        );
      const answered = await count(chain[0].output_topic);
      const wentUp = await count(chain[0].upper_topic);
      say(`  chain: ${answered} answered, ${wentUp} sent up to the cloud`);
      if (!(wentUp > 0 && answered > wentUp))
        throw new Error(`early exit: ${answered} answered, ${wentUp} went up (expected some at the edge and some in the cloud)`);
      for (const id of inference.chain) await stopInference(id);
      inference.chain = [];
    });

    await step('API docs: Swagger UI renders', async () => {
      await page.goto(U('/api/docs/'));
      await page.locator('.swagger-ui').first().waitFor();
      // The operations come from /api/schema/: one visible means the UI loaded and parsed it.
      await page.locator('.swagger-ui .opblock').first().waitFor({ timeout: 30_000 });
      await page.locator('.swagger-ui .opblock-summary-path', { hasText: '/api/v1/models/' }).first().waitFor();
      await screenshot('api-docs');
    });

    await step('re-run the result; the runs table and a comparison', async () => {
      if (!(await routeExists(U('/runs')))) {
        say('  no /runs page in this UI: skipped');
        return;
      }
      // A second run of the same training (the re-run button on the result page), to compare.
      await openPage(U(`/results/${resultId}`));
      const rerun = page.getByRole('button', { name: 'Re-run' });
      let rerunResult = null;
      if (await rerun.count()) {
        await rerun.click();
        await page.waitForURL(/\/deployments\/\d+$/);
        const rerunDeployment = Number(/deployments\/(\d+)/.exec(page.url())[1]);
        const deadline = Date.now() + TRAIN_TIMEOUT;
        for (;;) {
          const r = (await apiJson(U, `/api/v1/deployments/${rerunDeployment}/`)).results?.[0];
          const status = r?.status ?? 'not started';
          if (status === 'finished') {
            rerunResult = r.id;
            break;
          }
          if (status === 'failed' || status === 'stopped') throw new Error(`the re-run #${r.id} ${status}`);
          if (Date.now() > deadline) throw new Error(`the re-run is still “${status}” after ${TRAIN_TIMEOUT / 1000} s`);
          await page.waitForTimeout(2000);
        }
        say(`  re-run: result #${rerunResult}`);
      } else say('  no Re-run button: comparing whatever runs exist');
      await openPage(U('/runs'));
      await page.getByTestId('runs-table').waitFor();
      await page.getByTestId(`run-${resultId}`).waitFor();
      await docScreenshot('runs');
      const ticks = page.getByRole('checkbox', { name: /^Compare run \d+$/ });
      const n = Math.min(await ticks.count(), 3);
      if (n < 2) {
        say('  fewer than two runs: no comparison');
        return;
      }
      for (const id of rerunResult ? [resultId, rerunResult] : [])
        await page.getByRole('checkbox', { name: `Compare run ${id}`, exact: true }).check();
      if (!rerunResult) for (let i = 0; i < n; i++) await ticks.nth(i).check();
      await page.getByTestId('compare-selected').click();
      await page.waitForURL(/\/runs\/compare\?ids=/);
      await page.getByTestId('compare-metrics').waitFor();
      await page.locator('[data-testid^="compare-chart-"]').first().waitFor();
      await page.waitForTimeout(500);
      await docScreenshot('compare', true);
      await screenshot('compare');
    });

    await step('phone layout: no horizontal scroll on the main pages', async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      const pages = [
        ['models', '/models'],
        ['model editor', `/models/${modelId}`],
        ['configurations', '/configurations'],
        ['deployments', '/deployments'],
        ['deployment', `/deployments/${deploymentId}`],
        ['result', `/results/${resultId}`],
        ['datasources', '/datasources'],
        ['inferences', '/inferences'],
        ['visualization', '/visualization'],
        ['account', '/account'],
        ['users', '/users'],
        ['runs', '/runs'],
      ];
      for (const [what, path] of pages) {
        if (path === '/runs' && !(await routeExists(U(path)))) continue;
        await openPage(U(path));
        await assertNoHorizontalScroll(what);
        await screenshot(`phone-${what.replace(/\W+/g, '-')}`);
      }
      // The menu opens over the page and closes on navigation.
      await page.getByRole('button', { name: 'Menu' }).click();
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Models', exact: true }).click();
      await page.getByRole('heading', { name: 'Models' }).waitFor();
      await assertNoHorizontalScroll('models after the menu');
    });

    await step('log out', async () => {
      await page.setViewportSize({ width: 1366, height: 860 });
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByLabel('Username').waitFor();
      await screenshot('logged-out');
    });

    await secondUserSteps(target, U, newUser);

    if (consoleErrors.length) throw new Error(`browser console errors:\n  ${consoleErrors.join('\n  ')}`);
    say(`PASSED: the whole journey (${shot} screenshots in ${artifacts})`);
    return 0;
  } finally {
    if (inference && !inference.stopped) await stopInference(inference.id);
    for (const id of inference?.chain ?? []) await stopInference(id);
    writeFileSync(join(artifacts, 'console-errors.txt'), consoleErrors.join('\n'));
    await context?.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  }
}

let code;
try {
  code = await main();
} catch (err) {
  say(`FAILED: ${err?.message ?? err}`);
  const logs = componentLogs();
  if (logs) console.log(logs);
  code = 1;
} finally {
  await stopStack();
}
process.exit(code);
