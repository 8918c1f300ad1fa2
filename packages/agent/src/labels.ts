/**
 * The labels that tie a container to the scheduler's objects. pisched.node is
 * what makes a container ours: anything without this node's value is never
 * touched, because several agents (and people) may share one engine.
 */
export const LABEL_SERVICE = 'pisched.service';
export const LABEL_SERVICE_ID = 'pisched.service-id';
export const LABEL_TASK = 'pisched.task';
export const LABEL_SLOT = 'pisched.slot';
export const LABEL_NODE = 'pisched.node';
