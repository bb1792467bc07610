import type { CommandContext } from "../commands/context.js";
import { redactText } from "../core/redact.js";
import { chooseStyle, type Style } from "./style.js";

/** safe-pip's own lines go to stderr, prefixed, so pip's stdout stays pip's. */
export class Printer {
  readonly style: Style;

  constructor(private readonly ctx: CommandContext) {
    this.style = chooseStyle(ctx.isTTY, ctx.env);
  }

  info(line: string): void {
    if (!this.ctx.quiet) this.ctx.stderr.write(`${this.style.dim("safe-pip:")} ${redactText(line)}\n`);
  }

  lines(lines: string[]): void {
    if (this.ctx.quiet) return;
    for (const l of lines) this.ctx.stderr.write(`${redactText(l)}\n`);
  }

  /**
   * A spinner while safe-pip waits (resolution, checks) — only on an interactive terminal, never in
   * CI or with -q; elsewhere the same text is printed once as a plain line.
   */
  spin(text: string): { stop(): void } {
    const enabled = this.ctx.isTTY && !this.ctx.quiet && !this.ctx.env.CI;
    if (!enabled) {
      this.info(text);
      return { stop: () => undefined };
    }
    // ora (and its dozen modules) is loaded only here: every install would pay ~45 ms for it.
    let stopped = false;
    let spinner: { stop(): unknown } | undefined;
    void import("ora")
      .then(({ default: ora }) => {
        if (!stopped) spinner = ora({ text, stream: this.ctx.stderr as NodeJS.WriteStream, isEnabled: true, discardStdin: false }).start();
      })
      .catch(() => this.info(text));
    return {
      stop: () => {
        stopped = true;
        spinner?.stop();
      },
    };
  }

  warn(line: string): void {
    if (!this.ctx.quiet) this.ctx.stderr.write(`${this.style.yellow("safe-pip: warning:")} ${redactText(line)}\n`);
  }

  /** Errors and blocks print even with -q. */
  error(line: string, detail: string[] = []): void {
    this.ctx.stderr.write(`${this.style.red("safe-pip:")} ${redactText(line)}\n`);
    for (const d of detail) this.ctx.stderr.write(`  ${redactText(d)}\n`);
  }
}
