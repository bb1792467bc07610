/**
 * One error type for everything safe-pip refuses or fails at. Only the command line turns it into
 * text and an exit code, so library code never calls process.exit and stays testable in-process.
 *
 * Exit codes live in the BSD sysexits band (64-78) so they never collide with pip's own 0-4 and 23,
 * or with the shell's 126-128+n meanings.
 */
export const ExitCode = {
  OK: 0,
  USAGE: 64,
  BLOCKED: 65,
  UNAVAILABLE: 69,
  INTERNAL: 70,
  TOOL_NOT_FOUND: 72,
  CONFIG: 78,
} as const;

export type ErrorCode = keyof typeof ExitCode;

export class SafePipError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  /** Further lines (one per blocked version, say) printed under the message. */
  readonly detail: string[];

  constructor(code: ErrorCode, message: string, options?: { hint?: string | undefined; cause?: unknown; detail?: string[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SafePipError";
    this.code = code;
    this.hint = options?.hint;
    this.detail = options?.detail ?? [];
  }

  get exitCode(): number {
    return ExitCode[this.code];
  }
}

export const usageError = (message: string, hint?: string) => new SafePipError("USAGE", message, { hint });
export const configError = (message: string, hint?: string) => new SafePipError("CONFIG", message, { hint });
export const blockedError = (message: string, hint?: string, detail?: string[]) =>
  new SafePipError("BLOCKED", message, { hint, ...(detail ? { detail } : {}) });
export const unavailableError = (message: string, cause?: unknown) =>
  new SafePipError("UNAVAILABLE", message, { cause });

/** Text of an unknown thrown value, for messages (never a stack). */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const cause = err.cause instanceof Error ? err.cause.message : undefined;
    const base = err.message || String(code ?? "error");
    return cause && !base.includes(cause) ? `${base} (${cause})` : base;
  }
  return String(err);
}
