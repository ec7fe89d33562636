// A TCP port that never answers: a listening socket that never accepts, with its one-slot
// backlog filled, so the kernel drops further SYNs (what a dropped or hung host looks like).
// Node always accepts, so a tiny Python listener does it.
import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';

export interface SilentPort {
  port: number;
  close(): void;
}

const script = `
import socket, sys, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
`;

export async function openSilentPort(): Promise<SilentPort> {
  const child: ChildProcess = spawn('python3', ['-c', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => {
      resolve(Number(chunk.toString().trim()));
    });
    child.once('error', reject);
  });
  // Fill the accept queue; later connection attempts then hang.
  const filler = new Socket();
  await new Promise<void>((resolve) => filler.connect(port, '127.0.0.1', resolve));
  return {
    port,
    close: () => {
      filler.destroy();
      child.stdin?.end();
      child.kill();
    },
  };
}
