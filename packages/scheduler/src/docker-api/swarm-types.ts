/**
 * The JSON shapes of Docker Engine API 1.41's Swarm objects, as far as the
 * translation reads or writes them (moby api/swagger.yaml). These are
 * Docker's, not pisched's: pisched's own objects are the proto types.
 * Durations are nanoseconds, times RFC 3339.
 */
export type Json = Record<string, unknown>;

export interface DockerVersion {
  Index: number;
}

export interface DockerPortConfig {
  Name?: string;
  Protocol?: string;
  TargetPort?: number;
  PublishedPort?: number;
  PublishMode?: string;
}

export interface DockerFileReference {
  File?: { Name?: string; UID?: string; GID?: string; Mode?: number };
  SecretID?: string;
  SecretName?: string;
  ConfigID?: string;
  ConfigName?: string;
  Runtime?: Json;
}

export interface DockerServiceSpec {
  Name?: string;
  Labels?: Record<string, string>;
  TaskTemplate?: Json;
  Mode?: Json;
  UpdateConfig?: Json | null;
  RollbackConfig?: Json | null;
  Networks?: Json[];
  EndpointSpec?: { Mode?: string; Ports?: DockerPortConfig[] } | null;
}

/** How the docker CLI and Docker's API tell who failed and why: a status and {"message"}. */
export class DockerApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function badRequest(message: string): DockerApiError {
  return new DockerApiError(400, message);
}
