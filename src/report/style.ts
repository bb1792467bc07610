/**
 * Colour only on a terminal and never with NO_COLOR (https://no-color.org); everything else is
 * plain text so logs and CI output stay readable.
 */
export interface Style {
  bold(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  dim(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;

export const PLAIN: Style = { bold: (s) => s, red: (s) => s, yellow: (s) => s, green: (s) => s, dim: (s) => s };
export const COLOUR: Style = { bold: wrap(1, 22), red: wrap(31, 39), yellow: wrap(33, 39), green: wrap(32, 39), dim: wrap(2, 22) };

export function chooseStyle(isTTY: boolean, env: Readonly<Record<string, string | undefined>>): Style {
  return isTTY && env.NO_COLOR === undefined && env.TERM !== "dumb" ? COLOUR : PLAIN;
}
