import type Docker from 'dockerode';

type DialCallback = (error: unknown, data: unknown) => void;
interface Dialer {
  dial(options: { method?: string; path?: string }, callback?: DialCallback): unknown;
}

/**
 * The call a request path stands for, with ids and image names taken out so
 * the label has a handful of values: "POST /containers/{id}/start".
 */
export function dockerOperation(method: string | undefined, path: string | undefined): string {
  let p = (path ?? '').split('?')[0].replace(/^\/v\d+(\.\d+)?/, '');
  if (!/^\/containers\/(json|create|prune)$/.test(p)) p = p.replace(/^\/containers\/[^/]+/, '/containers/{id}');
  if (!/^\/images\/(json|create|load|search|prune)$/.test(p)) {
    p = p.replace(/^\/images\/.+\/(json|history|push|tag|get)$/, '/images/{name}/$1').replace(/^\/images\/(?!\{name\}).+$/, '/images/{name}');
  }
  if (!/^\/(volumes|networks)\/(create|prune)$/.test(p)) p = p.replace(/^\/(volumes|networks)\/[^/]+/, '/$1/{name}');
  return `${(method ?? 'GET').toUpperCase()} ${p}`;
}

/**
 * Times every request the agent makes of the engine at the one place they
 * all go through (docker-modem's dial): until the answer, or for a stream
 * its start; an error answer (a 404 included) counts as failed.
 */
export function timeDockerCalls(docker: Docker, observe: (operation: string, seconds: number, failed: boolean) => void): void {
  const modem = docker.modem as unknown as Dialer;
  const dial = modem.dial.bind(modem);
  modem.dial = (options, callback) => {
    const operation = dockerOperation(options.method, options.path);
    const started = performance.now();
    if (!callback) return dial(options, callback);
    return dial(options, (error, data) => {
      observe(operation, (performance.now() - started) / 1000, Boolean(error));
      callback(error, data);
    });
  };
}
