/**
 * Waits for a followed stream to end, ending it cleanly on Ctrl-C or SIGTERM
 * (so the scheduler stops the work it does for it, e.g. agents reading logs).
 */
export async function followUntilInterrupted(follow: { done: Promise<void>; stop: () => void }): Promise<void> {
  const interrupt = () => follow.stop();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    await follow.done;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}
