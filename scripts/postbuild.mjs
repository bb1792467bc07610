// Makes the built CLI executable; npm sets the mode on global installs, but a fresh clone runs dist/cli.js directly.
import { chmodSync, existsSync } from "node:fs";
if (existsSync("dist/cli.js")) chmodSync("dist/cli.js", 0o755);
