import type { Context } from '../context';
import { SchedulerError } from '../scheduler-client';

/**
 * Removes a network, secret or config a stack made. One still used by a
 * service outside the stack, or gone already, is kept with a warning: the
 * rest of the deploy or removal is done all the same.
 */
export async function removeStackObject(context: Context, what: string, remove: () => Promise<void>): Promise<void> {
  context.write(`Removing ${what}\n`);
  try {
    await remove();
  } catch (error) {
    if (!(error instanceof SchedulerError)) throw error;
    context.writeError(`warning: ${what} kept: ${error.message}\n`);
  }
}
