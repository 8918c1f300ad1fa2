import { timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { checkFileDataSize, validateFileObjectName, type Config, type ControlHandlers, type FileKind, type Secret, type StoreAction } from '@pisched/api';
import type { Store } from '../store/store';
import type { Clock } from '../orchestrator/task-factory';
import { requireSecurity } from '../security/cluster-security';
import { newSecretsKey, openSecret, sealSecret } from '../security/secret-box';
import { ApiError, notFound } from './grpc-errors';
import { findFileObject, servicesUsing } from './file-object-use';
import { unary } from './unary';
import { objectLabels } from './object-labels';

export type FileObjectCalls =
  | 'CreateSecret' | 'GetSecret' | 'ListSecrets' | 'RemoveSecret' | 'UpdateSecret'
  | 'CreateConfig' | 'GetConfig' | 'ListConfigs' | 'RemoveConfig' | 'UpdateConfig';

/**
 * Secrets and configs, as Swarm's: created once, never changed but for their
 * labels, removed only while no service uses them. A secret's value is sealed here, before the
 * command is proposed, so neither the Raft log nor a snapshot ever holds it in
 * clear; no answer carries it back (sealed or not), no log line names it.
 */
export function fileObjectHandlers(store: Store, clock: Clock): Pick<ControlHandlers, FileObjectCalls> {
  const checked = (kind: FileKind, name: string, data: Uint8Array | undefined): Uint8Array => {
    validateFileObjectName(kind, name);
    const bytes = data ?? new Uint8Array();
    checkFileDataSize(kind, bytes.length);
    return bytes;
  };

  const require = (kind: FileKind, nameOrId: string) => {
    if (!nameOrId) throw new ApiError(grpc.status.INVALID_ARGUMENT, `a ${kind} name or id is required`);
    const object = findFileObject(store.state, kind, nameOrId);
    if (!object) throw notFound(`${kind} ${nameOrId}`);
    return object;
  };

  const remove = async (kind: FileKind, nameOrId: string): Promise<Record<string, never>> => {
    await store.update((state) => {
      const object = findFileObject(state, kind, nameOrId);
      if (!object) throw notFound(`${kind} ${nameOrId}`);
      const users = servicesUsing(state, kind, object.name);
      if (users.length > 0) {
        throw new ApiError(
          grpc.status.FAILED_PRECONDITION,
          `${kind} ${object.name} is in use by service${users.length > 1 ? 's' : ''} ${users.join(', ')}: remove it from them first (update --${kind}-rm ${object.name})`,
        );
      }
      const action: StoreAction = kind === 'secret' ? { action: 'removeSecret', removeSecret: object.id } : { action: 'removeConfig', removeConfig: object.id };
      return [action];
    });
    return {};
  };

  /** Swarm's update: new labels; a value, if sent (docker stack deploy sends it again), must be the one stored. */
  const update = async (kind: FileKind, request: { name?: string; version?: number | string; data?: Uint8Array; labels?: Record<string, string> }) => {
    const nameOrId = request.name ?? '';
    if (!nameOrId) throw new ApiError(grpc.status.INVALID_ARGUMENT, `a ${kind} name or id is required`);
    const labels = objectLabels(kind, request.labels);
    const now = clock.now();
    const id = await store.update((state) => {
      const object = findFileObject(state, kind, nameOrId);
      if (!object) throw notFound(`${kind} ${nameOrId}`);
      const version = Number(object.meta?.version ?? 0);
      if (Number(request.version ?? 0) !== version) {
        throw new ApiError(grpc.status.ABORTED, `update out of sequence: ${kind} ${object.name} is at version ${version}, not ${Number(request.version ?? 0)}; read it again`);
      }
      const given = Buffer.from(request.data ?? new Uint8Array());
      if (given.length > 0) {
        const stored = kind === 'secret' ? openSecret(requireSecurity(state).secretsKey, object.id, (object as Secret).sealedData) : Buffer.from((object as Config).data);
        if (stored.length !== given.length || !timingSafeEqual(stored, given)) throw new ApiError(grpc.status.INVALID_ARGUMENT, `only the labels of ${kind} ${object.name} can be changed: its value cannot (create a new ${kind})`);
      }
      // The version read: the state machine checks it and gives the new one (the log index).
      const meta = { ...object.meta!, updatedAt: now };
      const action: StoreAction = kind === 'secret' ? { action: 'putSecret', putSecret: { ...(object as Secret), meta, labels } } : { action: 'putConfig', putConfig: { ...(object as Config), meta, labels } };
      return [[action], object.id];
    });
    return kind === 'secret' ? { secret: withoutValue(store.state.secrets.get(id!)!) } : { config: store.state.configs.get(id!) };
  };

  const alreadyInUse = (kind: FileKind, name: string) => new ApiError(grpc.status.ALREADY_EXISTS, `${kind} name ${name} is already in use`);

  return {
    CreateSecret: unary(async (request) => {
      const { name } = request;
      const data = checked('secret', name, request.data as Uint8Array);
      const labels = objectLabels('secret', request.labels);
      const id = clock.newId();
      const now = clock.now();
      // Random, so made outside the state machine; used only when the cluster has no key yet.
      const freshKey = newSecretsKey();
      await store.update((state) => {
        if (findFileObject(state, 'secret', name)) throw alreadyInUse('secret', name);
        const security = requireSecurity(state);
        const actions: StoreAction[] = [];
        let key: Uint8Array = security.secretsKey;
        if (!key || key.length === 0) {
          key = freshKey;
          actions.push({ action: 'putSecurity', putSecurity: { ...security, secretsKey: freshKey, meta: { ...security.meta!, updatedAt: now } } });
        }
        const secret: Secret = { id, meta: { version: 0, createdAt: now, updatedAt: now }, name, sealedData: sealSecret(key, id, data), size: data.length, labels };
        actions.push({ action: 'putSecret', putSecret: secret });
        return actions;
      });
      return { secret: withoutValue(store.state.secrets.get(id)!) };
    }),
    GetSecret: unary((request) => ({ secret: withoutValue(require('secret', request.name) as Secret) })),
    ListSecrets: unary(() => ({ secrets: [...store.state.secrets.values()].sort(byName).map(withoutValue) })),
    RemoveSecret: unary((request) => remove('secret', request.name)),
    UpdateSecret: unary((request) => update('secret', request)),

    CreateConfig: unary(async (request) => {
      const { name } = request;
      const data = checked('config', name, request.data as Uint8Array);
      const labels = objectLabels('config', request.labels);
      const id = clock.newId();
      const now = clock.now();
      await store.update((state) => {
        if (findFileObject(state, 'config', name)) throw alreadyInUse('config', name);
        const config: Config = { id, meta: { version: 0, createdAt: now, updatedAt: now }, name, data: Buffer.from(data), labels };
        return [{ action: 'putConfig', putConfig: config }];
      });
      return { config: store.state.configs.get(id) };
    }),
    // A config is not secret: inspect shows its data, as `docker config inspect` does.
    GetConfig: unary((request) => ({ config: require('config', request.name) as Config })),
    ListConfigs: unary(() => ({ configs: [...store.state.configs.values()].sort(byName).map((config) => ({ ...config, data: Buffer.alloc(0) })) })),
    RemoveConfig: unary((request) => remove('config', request.name)),
    UpdateConfig: unary((request) => update('config', request)),
  };
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name.localeCompare(b.name);
}

/** What the Control API shows of a secret: never its value, not even sealed. */
function withoutValue(secret: Secret): Secret {
  return { ...secret, sealedData: Buffer.alloc(0) };
}
