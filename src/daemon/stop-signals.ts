/** The signals that stop the daemon gracefully (DESIGN §10: SIGTERM from a service manager, Ctrl-C by hand). */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

export interface StopSignalWatch {
  /** Resolves with the first stop signal received. */
  readonly first: Promise<StopSignal>;
  /** Removes the handlers (after the daemon stopped): a later signal gets Node's default again. */
  dispose(): void;
}

/**
 * Listens for SIGTERM / SIGINT. The first one resolves `first`; a second one, while the daemon is still
 * stopping, calls `onSecond` (the CLI exits at once: the person asked twice).
 */
export function watchStopSignals(onSecond: (signal: StopSignal) => void): StopSignalWatch {
  let received: StopSignal | undefined;
  let resolveFirst: (signal: StopSignal) => void = () => undefined;
  const first = new Promise<StopSignal>((resolve) => {
    resolveFirst = resolve;
  });
  const handler = (signal: StopSignal): void => {
    if (received === undefined) {
      received = signal;
      resolveFirst(signal);
    } else onSecond(signal);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, handler);
  return {
    first,
    dispose: () => {
      for (const signal of STOP_SIGNALS) process.off(signal, handler);
    },
  };
}
