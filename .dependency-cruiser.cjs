/**
 * The import rules of server/ (docs/architecture.md, "Layers"), checked by
 * `npm run check` (`npm run arch:check`). Layers, lowest first; a module may
 * import its own layer and those below, never those above, except for types
 * (`import type`), which leave no arrow at run time. Cycles are refused
 * outright, between files and between folders, types included.
 */
const base = '^server/(lib|db|crypto|net|graph)/|^server/(env|logger|errors)\\.ts$';
const jobs = '^server/jobs/';
// The domains, lowest first: each may use those before it, never those after.
const domains = [
  'kinds',
  'auth',
  'idempotency',
  'webhooks',
  'media',
  'posts',
  'instagrams',
  'channels',
  'publisher',
];
// Files of a domain folder that face the outside (procedures, express handlers needing a session):
// they sit above every domain, with trpc.ts.
const api =
  '^server/(trpc|router|errors-router|openapi|hooks)\\.ts$|^server/[^/]+/router\\.ts$|^server/media/upload\\.ts$|^server/channels/sandbox\\.ts$';
const http = '^server/http/';
const top = '^server/(main\\.ts$|worker/)';

const layers = [
  { name: 'base', path: base },
  { name: 'jobs', path: jobs },
  ...domains.map((d) => ({ name: `domain ${d}`, path: `^server/${d}/`, pathNot: api })),
  { name: 'api', path: api },
  { name: 'http', path: http },
  { name: 'top', path: top },
];

const above = (i) => layers.slice(i + 1);

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment:
        'Files that import each other, directly or around a loop (types included): move the shared part down.',
      severity: 'error',
      from: { path: '^server/' },
      to: { circular: true },
    },
    {
      name: 'no-folder-cycle',
      comment:
        'Folders that import each other: one of them must not know the other (move the shared part down, or raise an event).',
      severity: 'error',
      scope: 'folder',
      from: { path: '^server/' },
      to: { circular: true },
    },
    ...layers
      .map((layer, i) => ({
        name: `no-upward-from-${layer.name.replace(' ', '-')}`,
        comment: `${layer.name} may not import ${above(i)
          .map((l) => l.name)
          .join(', ')} (types excepted).`,
        severity: 'error',
        from: { path: layer.path, ...(layer.pathNot ? { pathNot: layer.pathNot } : {}) },
        to: {
          path: above(i)
            .map((l) => `(${l.path})`)
            .join('|'),
          dependencyTypesNot: ['type-only'],
        },
      }))
      .filter((rule, i) => above(i).length > 0),
    {
      name: 'in-a-layer',
      comment: 'Every file under server/ belongs to a layer: add the new folder to .dependency-cruiser.cjs.',
      severity: 'error',
      from: { path: '^server/', pathNot: layers.map((l) => `(${l.path})`).join('|') },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^server/',
    tsConfig: { fileName: 'tsconfig.json' },
    // Keeps `import type` visible as its own kind of arrow (type-only), which the layer rules let pass.
    tsPreCompilationDeps: true,
  },
};
