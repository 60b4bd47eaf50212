/**
 * `switchboard serve …` for the bench: the CLI itself (src/cli/main.ts) run from TypeScript, so
 * `npm run bench` needs no build. The bench starts it as a child process, as a user runs the server.
 */
import { main } from '../src/cli/main.js';

main(process.argv).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
