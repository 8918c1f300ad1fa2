// Short names for the generated types. Values read from the wire or the store
// have the `__Output` shape (defaults filled in), so that is what we name.
export type { Service__Output as Service } from './gen/pisched/v1/Service';
export type { ServiceSpec__Output as ServiceSpec, ServiceSpec as ServiceSpecInput } from './gen/pisched/v1/ServiceSpec';
export type { ContainerSpec__Output as ContainerSpec } from './gen/pisched/v1/ContainerSpec';
export type { Resources__Output as Resources } from './gen/pisched/v1/Resources';
export type { PortConfig__Output as PortConfig } from './gen/pisched/v1/PortConfig';
export type { Task__Output as Task } from './gen/pisched/v1/Task';
export type { TaskStatus__Output as TaskStatus } from './gen/pisched/v1/TaskStatus';
export type { TaskState__Output as TaskState } from './gen/pisched/v1/TaskState';
export type { Node__Output as Node } from './gen/pisched/v1/Node';
export type { NodeDescription__Output as NodeDescription } from './gen/pisched/v1/NodeDescription';
export type { NodeState__Output as NodeState } from './gen/pisched/v1/NodeState';
export type { NodeAvailability__Output as NodeAvailability } from './gen/pisched/v1/NodeAvailability';
export type { Meta__Output as Meta } from './gen/pisched/v1/Meta';
export type { RestartPolicy__Output as RestartPolicy, RestartPolicy as RestartPolicyInput } from './gen/pisched/v1/RestartPolicy';
export type { Cluster__Output as Cluster } from './gen/pisched/v1/Cluster';
export type { StoreAction__Output as StoreAction } from './gen/pisched/v1/StoreAction';
export type { Command__Output as Command } from './gen/pisched/v1/Command';
export type { StoreSnapshot__Output as StoreSnapshot } from './gen/pisched/v1/StoreSnapshot';
export type { AgentMessage, AgentMessage__Output } from './gen/pisched/v1/AgentMessage';
export type { DispatcherMessage, DispatcherMessage__Output } from './gen/pisched/v1/DispatcherMessage';
export type { TaskStatusUpdate__Output as TaskStatusUpdate } from './gen/pisched/v1/TaskStatusUpdate';
export type { ServiceSummary__Output as ServiceSummary } from './gen/pisched/v1/ServiceSummary';
export type { ControlClient } from './gen/pisched/v1/Control';
export type { DispatcherClient } from './gen/pisched/v1/Dispatcher';
export type { ControlHandlers } from './gen/pisched/v1/Control';
export type { DispatcherHandlers } from './gen/pisched/v1/Dispatcher';
