/**
 * Clean-up actions that must run even when the run is interrupted (Ctrl-C, SIGTERM): the index
 * server closed, temporary files removed. The command line runs them on a signal before exiting.
 */
const actions = new Set<() => Promise<void>>();

export function registerCleanup(action: () => Promise<void>): () => Promise<void> {
  let done = false;
  const once = async () => {
    if (done) return;
    done = true;
    actions.delete(once);
    await action();
  };
  actions.add(once);
  return once;
}

export async function runAllCleanups(): Promise<void> {
  await Promise.allSettled([...actions].map((a) => a()));
}
