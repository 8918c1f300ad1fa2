import type { StoreAction } from '@pisched/api';
import type { StateMachine } from '../store/state-machine';
import type { Pass } from './control-loop';
import { reconcileGlobal } from './global';
import { NextWake } from './next-wake';
import type { Clock } from './task-factory';

/** The global orchestrator as the control loop runs it: it names the moment its next restart delay ends, so the loop needs no tick for it. */
export class GlobalOrchestrator implements Pass {
  readonly name = 'global-orchestrator';
  readonly wakesItself = true;
  private readonly next: NextWake;

  constructor(private readonly clock: Clock) {
    this.next = new NextWake(clock);
  }

  run(state: StateMachine): StoreAction[] {
    this.next.reset();
    return reconcileGlobal(state, this.clock, this.next.note);
  }

  wakeInMs(): number | undefined {
    return this.next.inMs();
  }
}
