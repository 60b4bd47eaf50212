/**
 * Directory file loading (src/directory/load.ts): a file modelled on the contract's example parses with
 * defaults filled, and each kind of mistake is reported naming the field path and the problem, all of
 * them at once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DirectoryError, isE164, loadDirectoryFile, parseDirectory } from '../../src/directory/load.js';
import { DirectoryIndex } from '../../src/directory/model.js';

const TENANT = '632899f8-2ea1-4604-8413-27bd2892079f';
const BOT = '24701998-1a73-4d42-8085-bf46ed0ae039';
const INSTANCE = '7629bdce-046c-4903-86b4-a8f718277e1a';
const USER1 = '98da8a1a-1b87-452c-a713-65d3f10b1253';
const USER2 = 'bf5aae9a-d11d-47a8-93b1-782504c9c3f3';

/** The contract's example (Part B "Directory file (YAML)"), secret taken from the environment. */
const CONTRACT_EXAMPLE = `
tenants:
  - id: ${TENANT}
    displayName: Contoso
    applications:                    # calling bots registered in this tenant
      - id: ${BOT}      # the client id
        displayName: test bot
        clientSecret: \${BOT_SECRET}
        roles: [Calls.Initiate.All]
        callbackUri: https://127.0.0.1:9443/api/calls  # the bot's global notification URL
        instances:                   # application instances (resource accounts)
          - id: ${INSTANCE}
            displayName: PstnAppInstance
            phone: "+14255550100"
    users:
      - id: ${USER1}
        displayName: test user
        behaviour: { answerAfter: 3 }          # seconds after ringing starts
      - id: ${USER2}
        displayName: test user 2
        behaviour: { decline: true }
phones:                              # PSTN numbers outside every tenant
  - number: "+12345678901"
    behaviour: { answerAfter: 5 }
`;

/** Self-signed test certificate (public part only). */
const CERTIFICATE = `-----BEGIN CERTIFICATE-----
MIIBljCCATugAwIBAgIUPhpbP3p+ney6N4LKLph6OgKa87IwCgYIKoZIzj0EAwIw
HzEdMBsGA1UEAwwUc3dpdGNoYm9hcmQtdGVzdC1ib3QwIBcNMjYxMTI2MDY1NTA1
WhgPMjEyNjExMDIwNjU1MDVaMB8xHTAbBgNVBAMMFHN3aXRjaGJvYXJkLXRlc3Qt
Ym90MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEinli5kCBMSrTKwhEiPJVSiyf
bEII/WrLm3hkd1ufUCmNx0iKVXG4vTareOBTU8LlI0YIQD229nIf3C6c3E5vEKNT
MFEwHQYDVR0OBBYEFHoForWmfQqhN1TY46SBbdfaP5wmMB8GA1UdIwQYMBaAFHoF
orWmfQqhN1TY46SBbdfaP5wmMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID
SQAwRgIhAO/Zsh+KhLaxPveXPjj6pDfzZZJUBHWMP0fQgZMDFunBAiEAl7v9A9c8
wXYD3OZUstm7CCGUlazLsN2d9JcjaUIJ1Nw=
-----END CERTIFICATE-----`;

const SOURCE = 'examples/directory.yaml';

/** A minimal valid tenant; `extra` is spliced in as further YAML lines of the tenant or the file. */
function file(tenantExtra = '', topExtra = ''): string {
  return `tenants:
  - id: t1
    applications:
      - id: bot1
        clientSecret: s
        roles: [Calls.Initiate.All]
        callbackUri: https://bot.example/calls
${tenantExtra}
${topExtra}`;
}

/** The problem lines `parseDirectory` throws for `text`; fails if it does not throw a DirectoryError. */
function problems(text: string, env: Record<string, string | undefined> = {}): string[] {
  try {
    parseDirectory(text, SOURCE, env);
  } catch (err) {
    assert.ok(err instanceof DirectoryError, `expected a DirectoryError, got ${String(err)}`);
    assert.equal(err.source, SOURCE);
    const lines = err.message.split('\n');
    assert.equal(lines.length, err.problems.length);
    return lines;
  }
  assert.fail('expected the directory to be refused');
}

/** Asserts exactly one line names `path` and matches `pattern`. */
function assertProblem(lines: string[], path: string, pattern: RegExp): void {
  const hits = lines.filter((l) => l.startsWith(`${SOURCE}: ${path}: `) && pattern.test(l));
  assert.equal(hits.length, 1, `expected one problem at ${path} matching ${pattern}, got:\n${lines.join('\n')}`);
}

describe('parseDirectory: a valid file', () => {
  it('parses the contract example, fills defaults and tenant ids', () => {
    const directory = parseDirectory(CONTRACT_EXAMPLE, SOURCE, { BOT_SECRET: 'dev-secret' });

    assert.deepEqual(directory.limits, { requestsPer15Seconds: 50000, bodyBytes: 1048576 });
    assert.deepEqual(directory.notifications, { allowHosts: [], giveUpAfterSeconds: 86400 });
    assert.equal(directory.admin, undefined);

    assert.equal(directory.tenants.length, 1);
    const [tenant] = directory.tenants;
    assert.ok(tenant);
    assert.equal(tenant.id, TENANT);
    assert.equal(tenant.displayName, 'Contoso');
    assert.deepEqual(tenant.applications, [
      {
        id: BOT,
        tenantId: TENANT,
        displayName: 'test bot',
        clientSecret: 'dev-secret',
        roles: ['Calls.Initiate.All'],
        callbackUri: 'https://127.0.0.1:9443/api/calls',
        instances: [{ id: INSTANCE, displayName: 'PstnAppInstance', phone: '+14255550100' }],
      },
    ]);
    assert.deepEqual(tenant.users, [
      { id: USER1, tenantId: TENANT, displayName: 'test user', behaviour: { answerAfter: 3 } },
      { id: USER2, tenantId: TENANT, displayName: 'test user 2', behaviour: { decline: true } },
    ]);
    assert.deepEqual(directory.phones, [{ number: '+12345678901', behaviour: { answerAfter: 5 } }]);

    // The result feeds the look-ups the rest of the code uses.
    const index = new DirectoryIndex(directory);
    assert.equal(index.instanceByPhone('+14255550100')?.application.id, BOT);
    assert.equal(index.user(USER2)?.tenantId, TENANT);
  });

  it('fills empty lists and no roles when optional keys are absent', () => {
    const directory = parseDirectory(
      'tenants:\n  - id: t1\n    applications:\n      - {id: a1, clientSecret: s, callbackUri: "https://a.example/cb"}\n',
      SOURCE,
      {},
    );
    assert.deepEqual(directory.phones, []);
    const [tenant] = directory.tenants;
    assert.deepEqual(tenant?.users, []);
    // No default role: a bot without Calls.Initiate.All is refused at token verification, as in Azure AD.
    assert.deepEqual(tenant?.applications[0]?.roles, []);
    assert.deepEqual(tenant?.applications[0]?.instances, []);
  });

  it('keeps given top-level settings and defaults the missing parts', () => {
    const directory = parseDirectory(
      file(
        '',
        'admin: {key: a-long-admin-key}\nlimits: {bodyBytes: 2048}\nnotifications: {allowHosts: [10.0.0.5]}\n',
      ),
      SOURCE,
      {},
    );
    assert.deepEqual(directory.admin, { key: 'a-long-admin-key' });
    assert.deepEqual(directory.limits, { requestsPer15Seconds: 50000, bodyBytes: 2048 });
    assert.deepEqual(directory.notifications, { allowHosts: ['10.0.0.5'], giveUpAfterSeconds: 86400 });
  });

  it('accepts a certificate instead of a clientSecret, and an application behaviour', () => {
    const certificate = CERTIFICATE.split('\n').map((l) => `          ${l}`).join('\n');
    const directory = parseDirectory(
      `tenants:
  - id: t1
    applications:
      - id: a1
        callbackUri: https://a.example/cb
        behaviour: {answerAfter: 2}
        certificate: |
${certificate}
`,
      SOURCE,
      {},
    );
    const application = directory.tenants[0]?.applications[0];
    assert.equal(application?.certificate?.trim(), CERTIFICATE);
    assert.equal(application?.clientSecret, undefined);
    assert.deepEqual(application?.behaviour, { answerAfter: 2 });
  });

  it('accepts forwardTo with another behaviour, to a user of another tenant or to a number', () => {
    const directory = parseDirectory(
      file(
        `    users:
      - {id: u1, behaviour: {forwardTo: u2, answerAfter: 4}}
  - id: t2
    users:
      - {id: u2, behaviour: {decline: true, after: 2, forwardTo: "+33612345678"}}`,
      ),
      SOURCE,
      {},
    );
    assert.deepEqual(directory.tenants[0]?.users[0]?.behaviour, { answerAfter: 4, forwardTo: 'u2' });
    assert.deepEqual(directory.tenants[1]?.users[0]?.behaviour, { decline: true, after: 2, forwardTo: '+33612345678' });
    assert.equal(directory.tenants[1]?.users[0]?.tenantId, 't2');
  });

  it('loadDirectoryFile reads a file and names it in problems', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-directory-'));
    try {
      const path = join(dir, 'directory.yaml');
      writeFileSync(path, CONTRACT_EXAMPLE);
      assert.equal(loadDirectoryFile(path, { BOT_SECRET: 'x' }).tenants[0]?.applications[0]?.clientSecret, 'x');

      const missing = join(dir, 'nope.yaml');
      assert.throws(
        () => loadDirectoryFile(missing, {}),
        (err: unknown) => err instanceof DirectoryError && err.message === `${missing}: cannot read the directory file: no such file`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parseDirectory: problems', () => {
  it('duplicate ids, across kinds and tenants, name both paths', () => {
    const lines = problems(
      file(`    users:
      - {id: bot1}
  - id: t2
    users:
      - {id: u1}
      - {id: U1}`),
    );
    assertProblem(lines, 'tenants[0].users[0].id', /duplicate id "bot1" \(already used by application tenants\[0\]\.applications\[0\]\.id\)/);
    // GUIDs compare case-insensitively, so ids differing only in case are duplicates too.
    assertProblem(lines, 'tenants[1].users[1].id', /duplicate id "U1" \(already used by user tenants\[1\]\.users\[0\]\.id\)/);
  });

  it('duplicate phone numbers name both paths', () => {
    const lines = problems(
      file(`        instances: [{id: i1, phone: "+14255550100"}]`, `phones:\n  - number: "+14255550100"`),
    );
    assertProblem(lines, 'phones[0].number', /duplicate number "\+14255550100" \(already used by tenants\[0\]\.applications\[0\]\.instances\[0\]\.phone\)/);
  });

  it('numbers must be E.164 and possible', () => {
    const lines = problems(
      file(
        `        instances: [{id: i1, phone: "+1 425 555 0100"}, {id: i2, phone: +14255550101}]
    users:
      - {id: u1, behaviour: {forwardTo: "+0123"}}`,
        `phones:\n  - number: "004412345678"\n  - number: "+999123456"`,
      ),
    );
    assertProblem(lines, 'tenants[0].applications[0].instances[0].phone', /"\+1 425 555 0100" is not an E\.164 number/);
    // Unquoted, YAML reads +14255550101 as an integer.
    assertProblem(lines, 'tenants[0].applications[0].instances[1].phone', /expected a string, got the number 14255550101; put the value in quotes/);
    assertProblem(lines, 'tenants[0].users[0].behaviour.forwardTo', /"\+0123" is not an E\.164 number/);
    assertProblem(lines, 'phones[0].number', /"004412345678" is not an E\.164 number/);
    assertProblem(lines, 'phones[1].number', /"\+999123456" is not a possible phone number/);
  });

  it('isE164 accepts fictional demo numbers and refuses impossible ones', () => {
    assert.equal(isE164('+14255550100'), true);
    assert.equal(isE164('+12345678901'), true);
    assert.equal(isE164('+1425555010'), false);
    assert.equal(isE164('14255550100'), false);
  });

  it('unknown behaviour key lists the allowed keys', () => {
    const lines = problems(file(`    users:\n      - {id: u1}\n      - {id: u2, behaviour: {ansverAfter: 3}}`));
    assert.deepEqual(lines, [
      `${SOURCE}: tenants[0].users[1].behaviour: unknown behaviour key "ansverAfter" (allowed: answerAfter, decline, after, busy, noAnswer, unreachable, manual, forwardTo)`,
    ]);
  });

  it('behaviour values have the documented types', () => {
    const lines = problems(
      file(`    users:
      - {id: u1, behaviour: {busy: false}}
      - {id: u2, behaviour: {answerAfter: -1}}
      - {id: u3, behaviour: {answerAfter: soon}}
      - {id: u4, behaviour: null}`),
    );
    assertProblem(lines, 'tenants[0].users[0].behaviour.busy', /must be true \(leave the key out to turn it off\)/);
    assertProblem(lines, 'tenants[0].users[1].behaviour.answerAfter', /must be 0 or more \(got -1\)/);
    assertProblem(lines, 'tenants[0].users[2].behaviour.answerAfter', /expected a number, got the string "soon"/);
    assertProblem(lines, 'tenants[0].users[3].behaviour', /expected a mapping, got an empty value/);
  });

  it('conflicting behaviours name both keys; after needs decline', () => {
    const lines = problems(
      file(`    users:
      - {id: u1, behaviour: {answerAfter: 3, busy: true}}
      - {id: u2, behaviour: {noAnswer: true, after: 3}}`),
    );
    assertProblem(lines, 'tenants[0].users[0].behaviour', /conflicting behaviours "answerAfter" and "busy"/);
    assertProblem(lines, 'tenants[0].users[1].behaviour.after', /"after" is only allowed with "decline: true"/);
  });

  it('an application needs a clientSecret or a certificate, and a real certificate', () => {
    const lines = problems(`tenants:
  - id: t1
    applications:
      - {id: a1, callbackUri: "https://a.example/cb"}
      - {id: a2, callbackUri: "https://a.example/cb", certificate: "not a pem"}
      - {id: a3, callbackUri: "https://a.example/cb", certificate: "-----BEGIN PRIVATE KEY-----\\nabc"}
`);
    assertProblem(lines, 'tenants[0].applications[0]', /missing clientSecret \(or certificate\)/);
    assertProblem(lines, 'tenants[0].applications[1].certificate', /is not a PEM certificate/);
    assertProblem(lines, 'tenants[0].applications[2].certificate', /holds a private key/);
  });

  it('callbackUri is required and must be an absolute https URL', () => {
    const lines = problems(`tenants:
  - id: t1
    applications:
      - {id: a1, clientSecret: s, callbackUri: "http://bot.example/calls"}
      - {id: a2, clientSecret: s, callbackUri: "/calls"}
      - {id: a3, clientSecret: s}
`);
    assertProblem(lines, 'tenants[0].applications[0].callbackUri', /must be https \(got "http:\/\/bot\.example\/calls"\)/);
    assertProblem(lines, 'tenants[0].applications[1].callbackUri', /is not an absolute URL/);
    assertProblem(lines, 'tenants[0].applications[2].callbackUri', /missing \(required\)/);
  });

  it('forwardTo must name a user in the directory, and must not loop', () => {
    const lines = problems(
      file(`    users:
      - {id: u1, behaviour: {forwardTo: nobody}}
      - {id: u2, behaviour: {forwardTo: bot1}}
      - {id: u3, behaviour: {forwardTo: u4}}
      - {id: u4, behaviour: {forwardTo: u3}}`),
    );
    assertProblem(lines, 'tenants[0].users[0].behaviour.forwardTo', /unknown user "nobody"/);
    assertProblem(lines, 'tenants[0].users[1].behaviour.forwardTo', /"bot1" is an application id; forwardTo takes a user id or an E\.164 number/);
    assertProblem(lines, 'tenants[0].users[2].behaviour.forwardTo', /forwarding loop: u3 → u4 → u3/);
    assert.equal(lines.filter((l) => l.includes('forwarding loop')).length, 1, 'a loop is reported once');
  });

  it('a missing environment variable names the field and the variable', () => {
    const lines = problems(file('', 'admin: {key: "${ADMIN_KEY}"}'), {});
    // Only the missing variable: the unresolved "${ADMIN_KEY}" is not also judged as a key.
    assert.deepEqual(lines, [`${SOURCE}: admin.key: environment variable ADMIN_KEY is not set (used as \${ADMIN_KEY})`]);
  });

  it('substitutes ${NAME} inside strings, and only that pattern', () => {
    const directory = parseDirectory(
      `tenants:
  - id: t1
    displayName: "\${lower} $NAME $\${ESCAPED} \${ORG}"
    applications:
      - id: a1
        clientSecret: \${BOT_SECRET}
        callbackUri: https://\${BOT_HOST}:9443/api/calls
`,
      SOURCE,
      { BOT_SECRET: 'from-env', BOT_HOST: 'bot.internal', ORG: 'Contoso', NAME: 'x', ESCAPED: 'no' },
    );
    const tenant = directory.tenants[0];
    assert.equal(tenant?.displayName, '${lower} $NAME ${ESCAPED} Contoso');
    assert.equal(tenant?.applications[0]?.clientSecret, 'from-env');
    assert.equal(tenant?.applications[0]?.callbackUri, 'https://bot.internal:9443/api/calls');
  });

  it('YAML syntax errors are reported with line and column', () => {
    assert.deepEqual(problems('tenants:\n  - id: t1\n  displayName: x\n'), [
      `${SOURCE}:3:1: YAML: All mapping items must start at the same column`,
    ]);
    assert.deepEqual(problems('tenants:\n  - id: "t1\n'), [`${SOURCE}:3:1: YAML: Missing closing "quote`]);
    // An unclosed bracket: the position points at where the parser gave up.
    const unclosed = problems('tenants:\n  - id: t1\n    users: [\n      {id: u1}\n');
    assert.match(unclosed[0] ?? '', /^examples\/directory\.yaml:5:1: YAML: .*end with a \]/);

    const duplicate = problems('tenants:\n  - id: t1\n    id: t2\n');
    assert.deepEqual(duplicate, [`${SOURCE}:3:5: YAML: Map keys must be unique`]);
  });

  it('unknown top-level and nested keys are named with the allowed ones', () => {
    const lines = problems(file('    user: []', 'phone: []'));
    assertProblem(lines, 'tenants[0]', /unknown key "user" \(allowed: id, displayName, applications, users\)/);
    assert.ok(
      lines.includes(`${SOURCE}: unknown top-level key "phone" (allowed: tenants, phones, admin, limits, notifications)`),
      lines.join('\n'),
    );
  });

  it('tenants are required, at least one', () => {
    assert.deepEqual(problems('phones: []\n'), [`${SOURCE}: tenants: missing (at least one tenant is required)`]);
    assert.deepEqual(problems('tenants: []\n'), [`${SOURCE}: tenants: at least one tenant is required`]);
    assert.deepEqual(problems(''), [`${SOURCE}: the file must be a mapping with a "tenants" list (got an empty value)`]);
  });

  it('top-level settings are checked', () => {
    const lines = problems(
      file('', 'admin: {key: short}\nlimits: {requestsPer15Seconds: 0, bodyBytes: 1.5}\nnotifications: {allowHosts: ["https://hooks.example/"]}'),
    );
    assertProblem(lines, 'admin.key', /must be at least 8 characters/);
    assertProblem(lines, 'limits.requestsPer15Seconds', /must be 1 or more/);
    assertProblem(lines, 'limits.bodyBytes', /expected a whole number/);
    assertProblem(lines, 'notifications.allowHosts[0]', /is not a host name/);
  });

  it('reports every problem at once', () => {
    const lines = problems(
      `tenants:
  - id: t1
    applications:
      - id: a1
        callbackUri: http://bot.example/calls
        instances: [{id: i1, phone: "555-0100"}]
    users:
      - {id: u1, behaviour: {ansverAfter: 3}}
      - {id: u2, behaviour: {answerAfter: 3, busy: true, forwardTo: ghost}}
      - {id: u1, displayName: "\${NOT_SET}"}
extra: true
`,
      {},
    );
    assertProblem(lines, 'tenants[0].applications[0]', /missing clientSecret \(or certificate\)/);
    assertProblem(lines, 'tenants[0].applications[0].callbackUri', /must be https/);
    assertProblem(lines, 'tenants[0].applications[0].instances[0].phone', /not an E\.164 number/);
    assertProblem(lines, 'tenants[0].users[0].behaviour', /unknown behaviour key "ansverAfter"/);
    assertProblem(lines, 'tenants[0].users[1].behaviour', /conflicting behaviours "answerAfter" and "busy"/);
    assertProblem(lines, 'tenants[0].users[1].behaviour.forwardTo', /unknown user "ghost"/);
    assertProblem(lines, 'tenants[0].users[2].id', /duplicate id "u1" \(already used by user tenants\[0\]\.users\[0\]\.id\)/);
    assertProblem(lines, 'tenants[0].users[2].displayName', /environment variable NOT_SET is not set/);
    assert.ok(lines.includes(`${SOURCE}: unknown top-level key "extra" (allowed: tenants, phones, admin, limits, notifications)`));
    assert.equal(lines.length, 9, lines.join('\n'));
  });
});
