/** The sandbox portal (DESIGN §7): start it, and drive its test hooks. */
export { createSandboxApp, startSandboxPortal, type RunningSandbox, type SandboxOptions } from './server';
export { sandboxControl, type SandboxControl } from './control';
export type { SandboxFaults } from './faults';
export type { OutboxItem } from './store/outbox';
export type { ChangeItem } from './store/changes';
