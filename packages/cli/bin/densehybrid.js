#!/usr/bin/env node
// The `densehybrid` command. This launcher is committed (not built) so that `npm ci` in a fresh
// clone links a bin that exists: npm links bins before anything is built, and `npx densehybrid`
// without a local bin would fetch a package of that name from the registry. The command itself
// is the built dist/bin.js; before a build this says how to make it.
const target = new URL('../dist/bin.js', import.meta.url);
try {
  await import(target.href);
} catch (e) {
  const missing =
    e !== null &&
    typeof e === 'object' &&
    e.code === 'ERR_MODULE_NOT_FOUND' &&
    /[\\/]dist[\\/][^\\/]+\.js/.test(String(e.message));
  if (!missing) throw e;
  const what = /'([^']+)'/.exec(String(e.message))?.[1] ?? target.pathname;
  process.stderr.write(
    `densehybrid: not built yet (${what} is missing): run \`npm run build\` in the repository, then run the command again\n`,
  );
  process.exitCode = 1;
}
