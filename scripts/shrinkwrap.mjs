// Writes npm-shrinkwrap.json for `npm pack` (prepack; removed again by postpack): the package's
// exact dependency tree from package-lock.json, each entry with its registry tarball address and
// integrity, so that installing the tarball (deploy/install.sh) resolves nothing: npm takes every
// dependency at the locked version, from its cache when `npm ci` filled it (--offline works) or
// from the registry, and needs no registry metadata. The lockfile leaves `resolved` out on machines
// set to omit-lockfile-registry-resolved; the default registry's address is written back here.
import { readFileSync, writeFileSync } from 'node:fs';

const REGISTRY = 'https://registry.npmjs.org';
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
let filled = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  if (path === '' || entry.link || entry.resolved || !entry.version) continue;
  const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const base = name.startsWith('@') ? name.split('/')[1] : name;
  entry.resolved = `${REGISTRY}/${name}/-/${base}-${entry.version}.tgz`;
  filled++;
}
writeFileSync('npm-shrinkwrap.json', `${JSON.stringify(lock, null, 2)}\n`);
console.error(
  `npm-shrinkwrap.json: ${Object.keys(lock.packages).length - 1} packages locked ` +
    `(${filled} tarball addresses filled in)`,
);
