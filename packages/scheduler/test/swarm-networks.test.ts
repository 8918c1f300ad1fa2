import { describe, expect, it } from 'vitest';
import { validateServiceSpec, type Network } from '@pisched/api';
import { configToDocker, fileObjectFromDocker, secretToDocker, serviceSpecFromDocker, serviceSpecToDocker } from '../src/docker-api/swarm-translation';
import { networkCreateFromDocker, networkToDocker } from '../src/docker-api/swarm-networks';
import { DockerApiError, type DockerServiceSpec, type Json } from '../src/docker-api/swarm-types';

const STACK = 'com.docker.stack.namespace';
const appDefault: Network = { id: 'n1d2e3f4', name: 'app_default', labels: { [STACK]: 'app' }, meta: { version: 0, createdAt: 1_700_000_000_000, updatedAt: 1_700_000_000_000 } };
const shared: Network = { id: 'abc99', name: 'shared', labels: {}, meta: { version: 0, createdAt: 0, updatedAt: 0 } };
const lookup = (target: string) => [appDefault, shared].find((n) => n.id === target || n.name === target || (target.length >= 3 && n.id.startsWith(target)));
const ids = { secret: () => '', config: () => '', network: (name: string) => [appDefault, shared].find((n) => n.name === name)?.id ?? '' };

/** What `docker stack deploy` (docker CLI 20.10, API 1.41) sends for service `web` of stack `app` on its default network. */
function stackService(networks: Json[], extra: Partial<DockerServiceSpec> = {}): DockerServiceSpec {
  return {
    Name: 'app_web',
    Labels: { [STACK]: 'app', 'com.docker.stack.image': 'busybox' },
    TaskTemplate: {
      ContainerSpec: { Image: 'busybox', Labels: { [STACK]: 'app' }, Args: ['httpd', '-f'], Isolation: 'default' },
      Resources: {},
      Placement: {},
      Networks: networks,
      ForceUpdate: 0,
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Mode: 'vip' },
    ...extra,
  };
}

function refusal(run: () => unknown, status = 400): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DockerApiError);
    expect((error as DockerApiError).status).toBe(status);
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('Docker networks, secrets and configs and pisched\'s', () => {
  it('creates what docker stack deploy asks for: an overlay network with the stack label', () => {
    const body = { Name: 'app_default', CheckDuplicate: true, Driver: 'overlay', Scope: '', EnableIPv6: false, IPAM: null, Internal: false, Attachable: false, Ingress: false, ConfigOnly: false, ConfigFrom: null, Options: {}, Labels: { [STACK]: 'app' } };
    expect(networkCreateFromDocker(body)).toEqual({ name: 'app_default', labels: { [STACK]: 'app' } });
    // `docker network create NAME` sends the bridge driver and the default IPAM.
    expect(networkCreateFromDocker({ Name: 'plain', Driver: 'bridge', IPAM: { Driver: 'default', Options: {}, Config: [] } })).toEqual({ name: 'plain', labels: {} });
  });

  it('refuses the network features pisched networks do not have, naming the field', () => {
    expect(refusal(() => networkCreateFromDocker({ Name: 'x', Driver: 'macvlan' }))).toMatch(/^NetworkCreate\.Driver "macvlan" is not supported/);
    expect(refusal(() => networkCreateFromDocker({ Name: 'x', Attachable: true }))).toMatch(/^NetworkCreate\.Attachable is not supported/);
    expect(refusal(() => networkCreateFromDocker({ Name: 'x', Internal: true }))).toMatch(/^NetworkCreate\.Internal is not supported/);
    expect(refusal(() => networkCreateFromDocker({ Name: 'x', Options: { 'com.docker.network.driver.mtu': '1400' } }))).toMatch(/^NetworkCreate\.Options is not supported/);
    expect(refusal(() => networkCreateFromDocker({ Name: 'x', IPAM: { Driver: 'default', Config: [{ Subnet: '10.9.0.0/24' }] } }))).toMatch(/^NetworkCreate\.IPAM\.Config is not supported/);
    expect(refusal(() => networkCreateFromDocker({ Name: 'x', Scope: 'local' }))).toMatch(/^NetworkCreate\.Scope "local"/);
  });

  it('reads and shows the labels of secrets and configs, which docker stack filters on', () => {
    expect(fileObjectFromDocker('Secret', { Name: 'app_tok', Labels: { [STACK]: 'app' }, Data: 'dG9r' })).toEqual({ name: 'app_tok', labels: { [STACK]: 'app' }, data: Buffer.from('tok') });
    const meta = { version: 0, createdAt: 0, updatedAt: 0 };
    expect(secretToDocker({ id: 's1', meta, name: 'app_tok', sealedData: Buffer.alloc(0), size: 3, labels: { [STACK]: 'app' } })).toMatchObject({ Spec: { Name: 'app_tok', Labels: { [STACK]: 'app' } } });
    expect(configToDocker({ id: 'c1', meta, name: 'app_conf', data: Buffer.from('a'), labels: { [STACK]: 'app' } }, false)).toMatchObject({ Spec: { Labels: { [STACK]: 'app' } } });
  });

  it('shows a pisched network as a swarm-scoped overlay with its labels, as docker stack expects', () => {
    expect(networkToDocker(appDefault)).toMatchObject({ Name: 'app_default', Id: 'n1d2e3f4', Scope: 'swarm', Driver: 'overlay', Labels: { [STACK]: 'app' }, Created: '2023-11-14T22:13:20.000000000Z' });
  });
});

describe('a service\'s network attachments', () => {
  it('joins the networks its attachments name by name, id or id prefix, and honours the stack key alias', () => {
    const spec = validateServiceSpec(serviceSpecFromDocker(stackService([{ Target: 'app_default', Aliases: ['web'] }, { Target: 'abc' }]), undefined, lookup));
    expect(spec.networks).toEqual(['app_default', 'shared']);
    expect(spec.container!.network).toBe('');
    expect(spec.endpointMode).toBe('vip');
    // Read back as Swarm shows it: network ids, and the alias pisched gives the stack's service.
    const docker = serviceSpecToDocker(spec, ids) as { TaskTemplate: { Networks: Json[] } };
    expect(docker.TaskTemplate.Networks).toEqual([{ Target: 'n1d2e3f4', Aliases: ['web'] }, { Target: 'abc99', Aliases: ['web'] }]);
    // And what it reads back gives the same spec.
    expect(validateServiceSpec(serviceSpecFromDocker(docker as DockerServiceSpec, spec, lookup))).toEqual(spec);
  });

  it('reads the older Spec.Networks, dnsrr, and the host network alone', () => {
    const older = serviceSpecFromDocker(stackService([], { Networks: [{ Target: 'n1d2e3f4' }], EndpointSpec: { Mode: 'dnsrr' } }), undefined, lookup);
    expect(older).toMatchObject({ networks: ['app_default'], endpointMode: 'dnsrr' });
    const host = serviceSpecFromDocker(stackService([{ Target: 'host' }]), undefined, lookup);
    expect(host).toMatchObject({ networks: [], container: { network: 'host' } });
    expect(serviceSpecToDocker(validateServiceSpec(host), ids)).toMatchObject({ TaskTemplate: { Networks: [{ Target: 'host' }] } });
  });

  it('refuses an unknown network, aliases pisched would not answer to, and mixed attachments', () => {
    expect(refusal(() => serviceSpecFromDocker(stackService([{ Target: 'nope' }]), undefined, lookup), 404)).toBe('network nope not found');
    expect(refusal(() => serviceSpecFromDocker(stackService([{ Target: 'app_default', Aliases: ['web', 'www'] }]), undefined, lookup))).toMatch(
      /^Spec\.TaskTemplate\.Networks\[0\]\.Aliases www is not supported by pisched/,
    );
    // Outside a stack a service has no alias at all.
    const plain = stackService([{ Target: 'shared', Aliases: ['web'] }], { Name: 'web', Labels: {} });
    (plain.TaskTemplate!.ContainerSpec as Json).Labels = {};
    expect(refusal(() => serviceSpecFromDocker(plain, undefined, lookup))).toMatch(/Aliases web is not supported/);
    expect(refusal(() => serviceSpecFromDocker(stackService([{ Target: 'host' }, { Target: 'shared' }]), undefined, lookup))).toMatch(/host network cannot be joined with another/);
    expect(refusal(() => serviceSpecFromDocker(stackService([{ Target: 'shared', DriverOpts: { a: 'b' } }]), undefined, lookup))).toMatch(/Networks\[0\]\.DriverOpts is not supported/);
    expect(refusal(() => serviceSpecFromDocker(stackService([{ Target: 'shared' }], { Networks: [{ Target: 'shared' }] }), undefined, lookup))).toMatch(/both set/);
  });
});
