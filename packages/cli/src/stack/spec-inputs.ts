import type { ServiceSpecInput } from '@pisched/api';

/** The input shapes of the generated proto types, by the names the converters use. */
export type ContainerInput = NonNullable<ServiceSpecInput['container']>;
export type PortConfigInput = NonNullable<ServiceSpecInput['ports']>[number];
export type MountInput = NonNullable<ContainerInput['mounts']>[number];
export type PlacementInput = NonNullable<ServiceSpecInput['placement']>;
export type ResourcesInput = NonNullable<ServiceSpecInput['resources']>;
