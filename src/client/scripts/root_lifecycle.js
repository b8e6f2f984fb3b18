// depcache: runs the root project's lifecycle events the way `npm ci` does
// (npm's lib/commands/ci.js and reify's `dependencies` events), with npm's
// own @npmcli/run-script. Started through `npm exec -c`, so the environment
// is the one npm gives scripts (npm_config_*, npm_execpath, user agent).
'use strict'
const path = require('node:path')

const npmRoot = path.resolve(path.dirname(process.env.npm_execpath || ''), '..')
const runScript = require(require.resolve('@npmcli/run-script', { paths: [npmRoot] }))

const events = (process.env.DEPCACHE_ROOT_EVENTS || '').split(',').filter(Boolean)
// reify runs these with piped output; ci runs the rest with inherited stdio.
const piped = new Set(['predependencies', 'dependencies', 'postdependencies'])

// Undo what `npm exec` itself added, so each event starts as under `npm ci`.
if (process.env.DEPCACHE_SCRIPT_PATH !== undefined) {
  process.env.PATH = process.env.DEPCACHE_SCRIPT_PATH
}
for (const name of ['DEPCACHE_ROOT_EVENTS', 'DEPCACHE_SCRIPT_PATH', 'npm_lifecycle_event',
  'npm_lifecycle_script']) {
  delete process.env[name]
}
process.env.npm_command = 'ci'

const main = async () => {
  // The job's npm configuration may say no scripts at all: `npm ci` obeys.
  if (process.env.npm_config_ignore_scripts === 'true') {
    return
  }
  const where = process.env.npm_config_local_prefix || process.cwd()
  for (const event of events) {
    try {
      await runScript({
        path: where,
        args: [],
        scriptShell: process.env.npm_config_script_shell || undefined,
        stdio: piped.has(event) ? 'pipe' : 'inherit',
        event,
      })
    } catch (er) {
      if (er.stdout) {
        process.stderr.write(er.stdout)
      }
      if (er.stderr) {
        process.stderr.write(er.stderr)
      }
      const how = er.signal ? `signal ${er.signal}` : `exit code ${er.code}`
      console.error(`the root project's ${event} script failed (${how})`)
      process.exit(typeof er.code === 'number' && er.code > 0 ? er.code : 1)
    }
  }
}

main().catch(er => {
  console.error(er && er.stack ? er.stack : String(er))
  process.exit(1)
})
