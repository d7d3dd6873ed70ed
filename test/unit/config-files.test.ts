// Settings files: every kind of mistake is exit 2 naming the file, the line and the key, before
// anything starts; flags override the file; keys are the flags' names.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AgentConfigSchema, agentConfig } from '../../agent/config.js';
import { fileSchemaOf, mergeFlags, parseConfigText, readConfigFile } from '../../common/config-file.js';
import { FleetnetError } from '../../common/errors.js';
import { ExecRunner } from '../../common/runner.js';
import { ControllerConfigSchema, controllerConfig } from '../../controller/config.js';
import { ensureBuilt } from '../helpers/build.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetnet-cfg-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const agentSchema = fileSchemaOf(AgentConfigSchema.shape);
const parseAgent = (text: string) =>
  parseConfigText(text, '/etc/fleetnet/agent.yaml', agentSchema, 'fleetnet agent run --help');

function refused(text: string, message: RegExp, hint?: RegExp): void {
  assert.throws(
    () => parseAgent(text),
    (e: FleetnetError) => {
      assert.equal(e.kind, 'invalid');
      assert.match(e.message, message);
      if (hint) assert.match(e.hint ?? '', hint);
      return true;
    },
  );
}

describe('settings files', () => {
  it('takes every flag by its name, typed', () => {
    const v = parseAgent(
      'listen: 10.0.0.2:7441\nstate-dir: /srv/fn\novs-datapath: netdev\ninsecure-tcp: true\nmesh-resync-ms: 500\n',
    );
    assert.deepEqual(v, {
      listen: '10.0.0.2:7441',
      stateDir: '/srv/fn',
      ovsDatapath: 'netdev',
      insecureTcp: true,
      meshResyncMs: 500,
    });
    assert.deepEqual(parseAgent('# only comments\n'), {});
    const ctl = parseConfigText(
      'resync-ms: 2000\ndb: /x.db\n',
      'c.yaml',
      fileSchemaOf(ControllerConfigSchema.shape),
      'x',
    );
    assert.deepEqual(ctl, { resyncMs: 2000, db: '/x.db' });
  });

  it('an unknown key: file, line, key, and the near miss', () => {
    refused(
      'listen: a:1\n\nstate-dri: /x\n',
      /^\/etc\/fleetnet\/agent\.yaml:3: unknown key 'state-dri'$/,
      /did you mean 'state-dir'\?/,
    );
    refused('stateDir: /x\n', /:1: unknown key 'stateDir'/, /state-dir/);
    refused('zzzzzzzz: 1\n', /:1: unknown key 'zzzzzzzz'/, /known keys: socket, listen, state-dir/);
  });

  it('a wrong type or value: file, line, key', () => {
    refused('listen: a:1\nmesh-resync-ms: often\n', /:2: key 'mesh-resync-ms': .*expected number/);
    refused('insecure-tcp: "yes"\n', /:1: key 'insecure-tcp': .*expected boolean/);
    refused('socket: /s\novs-datapath: kernel\n', /:2: key 'ovs-datapath': .*"system"\|"netdev"/);
    refused('mesh-resync-ms: -5\n', /:1: key 'mesh-resync-ms'/);
    // OVS wants bfd:decay_min_rx at least min_rx (1000 ms); 0 turns decay off.
    refused('mesh-bfd-decay-ms: 500\n', /:1: key 'mesh-bfd-decay-ms': .*0 \(no decay\) or 1000\.\.600000/);
    assert.deepEqual(parseAgent('mesh-bfd-decay-ms: 0\n'), { meshBfdDecayMs: 0 });
    assert.equal(agentConfig({}).meshBfdDecayMs, 5000);
  });

  it('bad YAML and a file that is no mapping', () => {
    refused(
      'listen: a:1\nsocket: @x\n',
      /^\/etc\/fleetnet\/agent\.yaml:2: not valid YAML: .*reserved character @/,
      /YAML syntax/,
    );
    refused('listen: a:1\nsocket: x\n state-dir: y\n', /^\/etc\/fleetnet\/agent\.yaml:2: not valid YAML/);
    refused('listen: "open\n', /:2: not valid YAML: Missing closing/);
    refused('listen: a\nlisten: b\n', /:2: not valid YAML: .*[Uu]nique|:2: not valid YAML/);
    refused('- a\n- b\n', /:1: the file must be a mapping/);
  });

  it('--config names a file that must exist; the default file may be absent', () => {
    assert.deepEqual(readConfigFile({ defaultPath: join(dir, 'none.yaml'), schema: agentSchema, helpCmd: 'x' }), {
      path: undefined,
      values: {},
    });
    assert.throws(
      () => readConfigFile({ explicit: join(dir, 'none.yaml'), defaultPath: '/x', schema: agentSchema, helpCmd: 'x' }),
      /does not exist/,
    );
  });

  it('flags given on the command line override the file; commander defaults do not', () => {
    const file = { stateDir: '/from/file', listen: 'f:1' };
    const src: Record<string, string> = { stateDir: 'default', listen: 'cli' };
    const cfg = agentConfig(
      mergeFlags(file, { stateDir: '/var/lib/fleetnet/agent', listen: 'c:2', socket: undefined }, (k) => src[k]),
    );
    assert.equal(cfg.stateDir, '/from/file');
    assert.equal(cfg.listen, 'c:2');
    assert.throws(() => agentConfig({ ovsDatapath: 'x' }), /agent setting --ovs-datapath/);
  });

  it('fleetnet agent run / controller run --config BAD: exit 2 with file:line, nothing started', async () => {
    const bin = await ensureBuilt();
    const sock = join(dir, 'agent.sock');
    const bad = join(dir, 'agent.yaml');
    writeFileSync(bad, `socket: ${sock}\nstate-dir: ${dir}\nlistn: 127.0.0.1:1\n`);
    const r = await new ExecRunner().run(process.execPath, [bin, 'agent', 'run', '--config', bad], { allowFail: true });
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `fleetnet: ${bad}:3: unknown key 'listn'\n  hint: did you mean 'listen'?\n`);
    assert.equal(existsSync(sock), false);
    const cbad = join(dir, 'controller.yaml');
    writeFileSync(cbad, `db: ${join(dir, 'state.db')}\nresync-ms: soon\n`);
    const c = await new ExecRunner().run(process.execPath, [bin, 'controller', 'run', '--config', cbad], {
      allowFail: true,
    });
    assert.equal(c.code, 2);
    assert.match(c.stderr, new RegExp(`${cbad}:2: key 'resync-ms'`));
    assert.equal(existsSync(join(dir, 'state.db')), false);
  });

  it('a listen address that cannot be served is refused with the settings, before anything starts', async () => {
    for (const [listen, why] of [
      ['10.0.0.1', /'10\.0\.0\.1' is not ADDR:PORT/],
      ['10.0.0.1:70000', /port 70000 of '10\.0\.0\.1:70000' is not a TCP port/],
      ['a b:7440', /'a b:7440': 'a b' is not an IP address or a host name/],
      ['unix:relative', /'unix:relative' is not unix:\/ABSOLUTE\/PATH/],
    ] as const) {
      assert.throws(() => agentConfig({ listen }), new RegExp(`agent setting --listen: ${why.source}`));
      assert.throws(() => controllerConfig({ listen }), new RegExp(`controller setting --listen: ${why.source}`));
    }
    for (const listen of ['10.0.0.1:7441', '[fd00::1]:7441', 'localhost:0', 'unix:/run/x.sock', 'unix:///run/x.sock'])
      assert.equal(controllerConfig({ listen }).listen, listen);
    refused('listen: 10.0.0.1\n', /agent\.yaml:1: key 'listen': '10\.0\.0\.1' is not ADDR:PORT/);
    const bin = await ensureBuilt();
    const db = join(dir, 'listen-state.db');
    const c = await new ExecRunner().run(
      process.execPath,
      [bin, 'controller', 'run', '--listen', '10.0.0.1', '--db', db, '--trust-dir', join(dir, 'none')],
      { allowFail: true },
    );
    assert.equal(c.code, 2, c.stderr);
    assert.match(c.stderr, /controller setting --listen: '10\.0\.0\.1' is not ADDR:PORT/);
    assert.equal(existsSync(db), false, 'the store was not opened');
  });
});
