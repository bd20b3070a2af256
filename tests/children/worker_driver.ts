// Drives one workers_child.ts Worker from the owning thread: attach it to a
// store, then send commands one at a time and await each answer.
import type { Cask } from "../../mod.ts";

export interface Reply {
  ok?: true;
  value?: unknown;
  error?: {
    name: string;
    message: string;
    code?: string;
    isCaskError: boolean;
    isInvalidArgument: boolean;
    isClosed: boolean;
  };
}

export class WorkerChild {
  readonly worker = new Worker(new URL("./workers_child.ts", import.meta.url).href, {
    type: "module",
  });
  readonly #waiting = new Map<number, (r: Reply) => void>();
  #nextId = 1;

  constructor() {
    this.worker.onmessage = (e: MessageEvent<Reply & { id: number }>) => {
      this.#waiting.get(e.data.id)?.(e.data);
      this.#waiting.delete(e.data.id);
    };
    this.worker.onerror = (e) => {
      e.preventDefault();
      for (const resolve of this.#waiting.values()) {
        resolve({ error: { name: "WorkerError", message: e.message } as Reply["error"] });
      }
      this.#waiting.clear();
    };
  }

  /** Attaches the Worker to `db` (a share() per Worker). */
  async attach(db: Cask): Promise<void> {
    const shared = db.share();
    const r = await this.#send({ attachTo: { shared } }, [shared.port]);
    if (r.error) throw new Error(`attach failed: ${r.error.name}: ${r.error.message}`);
  }

  /** Sends a command; resolves to the Worker's reply. */
  send(cmd: Record<string, unknown>): Promise<Reply> {
    return this.#send({ command: cmd }, []);
  }

  /** Sends a command; resolves to its value, throws when it failed. */
  async value<T>(cmd: Record<string, unknown>): Promise<T> {
    const r = await this.send(cmd);
    if (r.error) throw new Error(`${cmd.cmd} failed: ${r.error.name}: ${r.error.message}`);
    return r.value as T;
  }

  #send(m: object, transfer: Transferable[]): Promise<Reply> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.worker.postMessage({ id, ...m }, transfer);
    });
  }

  terminate(): void {
    this.worker.terminate();
  }
}
