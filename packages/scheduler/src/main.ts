import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_SCHEDULER_PORT, parseMetricsAddress, clusterChannel, directoryErrorReason, ensurePrivateDir, isPlacementStrategy, type ClusterCa, type TlsIdentity, parseHostPort, type PlacementStrategy } from '@pisched/api';
import { createLogger } from './logger';
import { SchedulerServer } from './scheduler-server';
import { parsePeers, type Peer } from './cluster/peers';
import { startByJoining, startFromPeers, type ClusterStart } from './cluster/bootstrap';
import { joiningMemberCredentials, peersMemberCredentials } from './security/member-identity';
import { parseDockerApiAddress, type DockerApiAddress } from './docker-api/docker-api-server';

function dockerApiAddress(value: string, previous: DockerApiAddress[] = []): DockerApiAddress[] {
  try {
    return [...previous, parseDockerApiAddress(value)];
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function peers(value: string): Peer[] {
  try {
    return parsePeers(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a positive whole number`);
    return n;
  };
}

function address(value: string): string {
  try {
    const { host, port } = parseHostPort(value, DEFAULT_SCHEDULER_PORT, true);
    return `${host}:${port}`;
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function metricsAddress(value: string): string {
  try {
    const { host, port } = parseMetricsAddress(value);
    return `${host}:${port}`;
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** A browser is told the address: the port must be given (a dashboard has no customary one here). */
function dashboardAddress(value: string): string {
  try {
    const { host, port } = parseHostPort(value, Number.NaN, true);
    return `${host}:${port}`;
  } catch (error) {
    throw new InvalidArgumentError(`--dashboard-addr: ${(error as Error).message}`);
  }
}

function strategy(value: string): PlacementStrategy {
  if (!isPlacementStrategy(value)) throw new InvalidArgumentError('--placement-strategy must be binpack or spread');
  return value;
}

const program = new Command('pisched-scheduler')
  .description('The pisched scheduler: keeps services running on the agents that join it')
  .requiredOption('--data-dir <dir>', 'where the state is kept (created if missing)')
  .option('--id <id>', 'this scheduler member\'s id', 's1')
  .option('--listen <host:port>', 'address for the CLI and the agents', address, '127.0.0.1:7700')
  .option('--heartbeat-period <ms>', 'how often agents heartbeat, in ms', positiveInt('--heartbeat-period'), 1000)
  .option('--heartbeat-grace <n>', 'missed heartbeats before a node is down', positiveInt('--heartbeat-grace'), 3)
  .option(
    '--placement-strategy <strategy>',
    'binpack (fill nodes) or spread (even out): the initial default of a new cluster; a stored one is changed only with pisched cluster update (default binpack)',
    strategy,
  )
  .option(
    '--peers <id=host:port,...>',
    'all members of a cluster of schedulers, this one included (Raft between them uses each address\'s port + 1); without it, a single scheduler',
    peers,
  )
  .option(
    '--join <host:port>',
    'join a running cluster of schedulers through any of its members (first start only; later starts rejoin from --data-dir)',
    address,
  )
  .option('--join-token <token>', 'with --join, the manager join token (pisched join-token manager on a member); first start only (and after this member was off longer than its certificate\'s life)')
  .option(
    '--ca-dir <dir>',
    'with --peers, the directory holding the cluster root CA (ca.pem, ca.key) shared by the initial members: created when empty; copy it to the other members\' hosts',
  )
  .option('--metrics-addr <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics on a loopback address, or over HTTPS with a cluster client certificate on any other (off by default)', metricsAddress)
  .option(
    '--docker-api-addr <tcp://host:port|unix:///path>',
    'serve Docker\'s Swarm API (docker service/node/secret …) here: TCP needs an admin client certificate (DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH=an admin bundle); a unix socket is made owner-only; repeatable',
    dockerApiAddress,
  )
  .option('--dashboard-addr <host:port>', 'serve the web dashboard at https://HOST:PORT/ (log in with pisched dashboard, or an admin client certificate; off by default)', dashboardAddress)
  .option('--no-control-socket', 'do not serve the Control API on the owner-only unix socket in the data dir (control/) that the CLI on this machine uses instead of TLS')
  .option('--log-level <level>', 'fatal, error, warn, info, debug or trace', process.env.PISCHED_LOG_LEVEL ?? 'info')
  .showHelpAfterError(false)
  .configureOutput({ outputError: (text, write) => write(text.split('\n')[0] + '\n') })
  .action(async (options) => {
    const log = createLogger('pisched-scheduler', options.logLevel);
    let server: SchedulerServer;
    try {
      if (options.peers && options.join) throw new Error('give --peers (a member of the initial cluster) or --join (a member added later), not both');
      // The store holds the cluster CA's key: the data dir is the owner's only.
      try {
        ensurePrivateDir(options.dataDir);
      } catch (error) {
        throw new Error(`cannot create data dir ${options.dataDir}: ${directoryErrorReason(error)}`);
      }
      if (options.caDir && !options.peers) throw new Error('--ca-dir is for the initial members of a --peers cluster; a single scheduler makes its own CA');
      if (options.joinToken && !options.join) throw new Error('--join-token goes with --join');
      let cluster: ClusterStart | undefined;
      let identity: TlsIdentity | undefined;
      let caSeed: ClusterCa | undefined;
      if (options.peers) {
        if (!options.caDir) throw new Error('--peers needs --ca-dir DIR: the cluster root CA its members share (created in DIR when empty)');
        cluster = startFromPeers(options.dataDir, options.id, options.listen, options.peers);
        ({ identity, ca: caSeed } = await peersMemberCredentials(options.dataDir, options.id, options.caDir));
      } else if (options.join) {
        identity = await joiningMemberCredentials(options.dataDir, options.id, options.join, options.joinToken);
        cluster = await startByJoining(options.dataDir, options.id, options.listen, options.join, clusterChannel(identity));
      }
      server = new SchedulerServer({
        id: options.id,
        listen: options.listen,
        dataDir: options.dataDir,
        heartbeatPeriodMs: options.heartbeatPeriod,
        heartbeatGrace: options.heartbeatGrace,
        placementStrategy: options.placementStrategy,
        cluster,
        identity,
        caSeed,
        onRemoved: () => process.exit(0),
        metricsAddr: options.metricsAddr,
        dockerApiAddrs: options.dockerApiAddr,
        dashboardAddr: options.dashboardAddr,
        controlSocket: options.controlSocket,
        log,
      });
      await server.start();
    } catch (error) {
      process.stderr.write(`pisched-scheduler: ${(error as Error).message}\n`);
      process.exit(1);
    }
    const shutdown = (signal: string) => {
      log.info({ signal }, 'stopping');
      server.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });

program.parseAsync(process.argv);
