import type { ObservedContainer } from './observed';

interface Batch {
  taskIds: Set<string>;
  answer: Promise<ObservedContainer[]>;
  resolve: (containers: ObservedContainer[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Reads of one task's containers that come at about the same moment, served
 * by one list of the engine: twenty new replicas (each listed before its
 * create, so a task is never started twice after an agent restart) and the
 * start events of twenty containers each made a list of their own, while the
 * engine was busy creating and starting those very containers.
 *
 * A read never joins a list already sent: a task's job reads only once the
 * job before it on the task's chain is done, and must see what that job made.
 * Reads of one turn of the event loop go together; reads that come while a
 * list is under way wait for the next, sent as soon as that one is answered.
 */
export class CoalescedList {
  private gathering: Batch | undefined;
  private sending = false;

  /** `list` reads the containers of the tasks named ('' for those without a task label). */
  constructor(private readonly list: (taskIds: readonly string[]) => Promise<ObservedContainer[]>) {}

  of(taskId: string): Promise<ObservedContainer[]> {
    if (!this.gathering) {
      let resolve!: Batch['resolve'];
      let reject!: Batch['reject'];
      const answer = new Promise<ObservedContainer[]>((yes, no) => {
        resolve = yes;
        reject = no;
      });
      this.gathering = { taskIds: new Set(), answer, resolve, reject };
      if (!this.sending) setImmediate(() => this.send());
    }
    this.gathering.taskIds.add(taskId);
    return this.gathering.answer.then((containers) => containers.filter((container) => container.taskId === taskId));
  }

  private send(): void {
    const batch = this.gathering;
    if (!batch || this.sending) return;
    this.gathering = undefined;
    this.sending = true;
    void this.list([...batch.taskIds])
      .then(batch.resolve, batch.reject)
      .finally(() => {
        this.sending = false;
        this.send();
      });
  }
}
