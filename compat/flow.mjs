// Compatibility flow: drives an orgbase server with the published
// @medable/mdctl-api client, unchanged. See CLIENT_NOTES.md for how the
// client behaves on the wire.
//
// Configuration (environment variables):
//   ORGBASE_URL      base URL, scheme + host + port only, e.g. http://127.0.0.1:18080
//   ORG              org code (the `env` of the client; URLs are {ORGBASE_URL}/{ORG}/v2/...)
//   CLIENT_KEY       app api key   (client requires 22 chars [0-9A-Za-z-] or a "c_" prefix)
//   CLIENT_SECRET    app api secret (client requires exactly 64 chars [0-9A-Za-z-])
//   ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_ACCOUNT_ID, ORG_ID
// Optional:
//   COMPAT_ORG_NAME    name set by the PATCH step (default "Compat Org")
//   COMPAT_TIMEOUT_MS  per-request timeout passed to the client's requestOptions (default 15000)
//
// Prints one line per step, then "N passed, M failed"; exits 1 if any step
// failed, 2 on a configuration error.

import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { Client } = require('@medable/mdctl-api')
// The Fault class exactly as the client resolves it (client.js:12), so that
// `instanceof` tells server faults apart from transport errors. Note that
// mdctl-core patches Error.prototype with object:'fault' and statusCode:500,
// so those properties alone do not identify a server fault.
const requireFromApi = createRequire(require.resolve('@medable/mdctl-api'))
const { Fault } = requireFromApi('@medable/mdctl-core')

const STEP_COUNT = 6

const required = ['ORGBASE_URL', 'ORG', 'CLIENT_KEY', 'CLIENT_SECRET',
  'ADMIN_EMAIL', 'ADMIN_PASSWORD', 'ADMIN_ACCOUNT_ID', 'ORG_ID']
const missing = required.filter((name) => !process.env[name])
if (missing.length) {
  console.error(`config error: missing environment variable(s): ${missing.join(', ')}`)
  process.exit(2)
}

const {
  ORGBASE_URL, ORG, CLIENT_KEY, CLIENT_SECRET,
  ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_ACCOUNT_ID, ORG_ID
} = process.env
const NEW_NAME = process.env.COMPAT_ORG_NAME || 'Compat Org'
const TIMEOUT_MS = Number.parseInt(process.env.COMPAT_TIMEOUT_MS || '15000', 10)

// ---------------------------------------------------------------------------

function makeClient(env, credentials) {
  return new Client({
    environment: { endpoint: ORGBASE_URL, env },
    credentials,
    requestOptions: { timeout: TIMEOUT_MS }
  })
}

function passwordCredentials() {
  return { type: 'password', apiKey: CLIENT_KEY, username: ADMIN_EMAIL, password: ADMIN_PASSWORD }
}

function signatureCredentials(apiSecret) {
  return { type: 'signature', apiKey: CLIENT_KEY, apiSecret }
}

// A different secret that still passes the client's own format check
// (64 chars of [0-9A-Za-z-]); otherwise the client throws before sending.
function wrongSecret(secret) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
  return Array.from(secret, (ch) => {
    const i = alphabet.indexOf(ch)
    return alphabet[(i < 0 ? 0 : i + 1) % alphabet.length]
  }).join('')
}

class StepFailure extends Error {}

function fail(message) {
  throw new StepFailure(message)
}

function isFault(err) {
  return err instanceof Fault
}

// Transport-level failure: no HTTP response at all (refused, reset, timeout...).
function isTransportError(err) {
  return Boolean(err && !isFault(err) && err.isAxiosError && !err.response)
}

function describe(err) {
  if (err instanceof StepFailure) return err.message
  if (isFault(err)) {
    const msg = err.getMessage ? err.getMessage() : err.message
    return `fault code=${err.code} errCode=${err.errCode} status=${err.statusCode}${msg ? ` "${msg}"` : ''}`
  }
  if (isTransportError(err)) {
    return `transport error ${err.code || ''} ${err.message}`.replace(/\s+/g, ' ').trim()
  }
  return `${(err && err.name) || 'Error'}: ${err && err.message}`
}

// Runs `fn` expecting it to reject with a server fault; returns the fault.
async function expectFault(what, fn) {
  let result
  try {
    result = await fn()
  } catch (err) {
    if (isFault(err)) return err
    throw err
  }
  return fail(`${what} succeeded but a fault was expected (got ${JSON.stringify(result)})`)
}

function brief(value) {
  const s = JSON.stringify(value)
  return s && s.length > 160 ? `${s.slice(0, 157)}...` : s
}

// ---------------------------------------------------------------------------

const admin = makeClient(ORG, passwordCredentials())

const steps = [
  {
    name: 'password login as admin',
    async run() {
      const result = await admin.post('/accounts/login', { email: ADMIN_EMAIL, password: ADMIN_PASSWORD })
      // The client itself reads nothing from the login body; Medable answers with
      // the account document, so a present _id must be the admin's.
      if (result && typeof result === 'object' && result._id !== undefined
          && String(result._id) !== ADMIN_ACCOUNT_ID) {
        fail(`login returned account _id ${result._id}, expected ${ADMIN_ACCOUNT_ID}`)
      }
      // The client logs in with the md.sid cookie; the session token must not
      // also be in the body, where a page's JavaScript could read it.
      if (result && typeof result === 'object' && result.token !== undefined) {
        fail('a cookie login answered the session token in its body')
      }
      const headers = (admin.response && admin.response.headers) || {}
      const cookies = [].concat(headers['set-cookie'] || [])
        .map((c) => c.split(';')[0].split('=')[0])
      return `account ${result && result._id !== undefined ? result._id : '(no _id in body)'}`
        + `; set-cookie: ${cookies.length ? cookies.join(',') : 'none'}`
        + `; csrf header: ${headers['medable-csrf-token'] ? 'yes' : 'no'}`
    }
  },
  {
    name: `read orgs/${ORG_ID} and PATCH its name`,
    async run() {
      const org = await admin.get(`orgs/${ORG_ID}`)
      if (!org || typeof org !== 'object') fail(`GET orgs/${ORG_ID} returned ${brief(org)}`)
      if (String(org._id) !== ORG_ID) fail(`GET orgs/${ORG_ID}: _id is ${brief(org._id)}`)
      if (org.access !== 7) fail(`GET orgs/${ORG_ID}: access is ${brief(org.access)}, expected 7`)
      const before = org.name
      // client.patch(path, body = []) sends the body as-is; the Medable shape
      // is an array of operations.
      await admin.patch(`orgs/${ORG_ID}`, [{ op: 'set', path: 'name', value: NEW_NAME }])
      const after = await admin.get(`orgs/${ORG_ID}`)
      if (!after || after.name !== NEW_NAME) {
        fail(`after PATCH name is ${brief(after && after.name)}, expected ${brief(NEW_NAME)}`)
      }
      return `access 7; name ${brief(before)} -> ${brief(after.name)}`
    }
  },
  {
    name: 'read on missing org no-such-org is a 404 fault',
    async run() {
      const ghost = makeClient('no-such-org', passwordCredentials())
      const err = await expectFault('GET /no-such-org/v2/orgs/...', () => ghost.get(`orgs/${ORG_ID}`))
      if (err.statusCode !== 404) fail(`expected status 404, got ${describe(err)}`)
      return describe(err)
    }
  },
  {
    name: 'logout, then accounts/me is refused',
    async run() {
      await admin.post('/accounts/me/logout')
      const err = await expectFault('GET accounts/me after logout', () => admin.get('accounts/me'))
      return describe(err)
    }
  },
  {
    name: `signed GET orgs/${ORG_ID} as ${ADMIN_ACCOUNT_ID}`,
    async run() {
      const signer = makeClient(ORG, signatureCredentials(CLIENT_SECRET))
      const org = await signer.get(`orgs/${ORG_ID}`, { principal: ADMIN_ACCOUNT_ID })
      if (!org || typeof org !== 'object') fail(`signed GET returned ${brief(org)}`)
      if (String(org._id) !== ORG_ID) fail(`signed GET: _id is ${brief(org._id)}`)
      if (org.access !== 7) fail(`signed GET: access is ${brief(org.access)}, expected 7`)
      return 'access 7'
    }
  },
  {
    name: 'signed GET with a wrong secret is a 403 fault',
    async run() {
      const bad = makeClient(ORG, signatureCredentials(wrongSecret(CLIENT_SECRET)))
      const err = await expectFault('signed GET with wrong secret',
        () => bad.get(`orgs/${ORG_ID}`, { principal: ADMIN_ACCOUNT_ID }))
      if (err.statusCode !== 403) fail(`expected status 403, got ${describe(err)}`)
      return describe(err)
    }
  }
]

if (steps.length !== STEP_COUNT) throw new Error('step table out of sync')

let passed = 0
let failed = 0
let unreachable = null

for (const [i, step] of steps.entries()) {
  const label = `${i + 1}. ${step.name}`
  if (unreachable) {
    failed += 1
    console.log(`FAIL ${label}: not run (server unreachable: ${unreachable})`)
    continue
  }
  try {
    const detail = await step.run()
    passed += 1
    console.log(`ok   ${label}${detail ? ` (${detail})` : ''}`)
  } catch (err) {
    failed += 1
    console.log(`FAIL ${label}: ${describe(err)}`)
    if (isTransportError(err)) unreachable = `${err.code || err.message}`
  }
}

console.log(`${passed} passed, ${failed} failed`)
process.exitCode = failed === 0 ? 0 : 1
