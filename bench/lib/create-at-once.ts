// Garden's gate: every client creates `each` containers, all clients at
// once. Answers each create's latency; each client then destroys its own.
export interface Creator {
  create(): Promise<string>;
  destroy(handle: string): Promise<void>;
}

export async function createAtOnce(clients: Creator[], each: number): Promise<number[]> {
  const latencies: number[] = [];
  const made = clients.map(() => [] as string[]);
  await Promise.all(
    clients.map(async (client, n) => {
      for (let i = 0; i < each; i++) {
        const t = performance.now();
        made[n].push(await client.create());
        latencies.push(performance.now() - t);
      }
    }),
  );
  await Promise.all(
    clients.map(async (client, n) => {
      for (const h of made[n]) await client.destroy(h);
    }),
  );
  return latencies;
}
