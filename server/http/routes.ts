import type { AnyRouter } from '@trpc/server';
import { proceduresMeta } from '../trpc.ts';

/**
 * The REST routes of the router (method and path template), to tell a wrong
 * method on an existing path (405, with Allow) from a path that does not
 * exist (404), and to answer HEAD wherever GET is served.
 */
export function restRoutes(
  router: AnyRouter,
  /** Routes served outside the router (the upload, a file body). */
  extra: { method: string; path: string }[] = [],
): { methodsFor(path: string): string[] } {
  const routes = [
    ...extra.map(({ method, path }) => ({ method, regex: new RegExp(`^${path}/?$`) })),
    ...[...proceduresMeta(router).values()].flatMap((meta) =>
      meta.openapi
        ? [
            {
              method: meta.openapi.method,
              regex: new RegExp(`^${meta.openapi.path.replace(/\{[^}]+\}/g, '[^/]+')}/?$`),
            },
          ]
        : [],
    ),
  ];
  return {
    methodsFor(path) {
      return [...new Set(routes.filter((r) => r.regex.test(path)).map((r) => r.method))];
    },
  };
}
