/**
 * ONNX sessions of a loaded model (checkpoint, LoRA variant, separate VAE), opened once per
 * graph on first use and shared by every later job. The cache holds the opening promise, so
 * concurrent first uses open the graph once; a failed open is dropped so the next job tries
 * again instead of inheriting the failure.
 */
import type * as ort from 'onnxruntime-node';

export class SessionCache<Graph> {
  private readonly sessions = new Map<Graph, Promise<ort.InferenceSession>>();

  /** The graph's session, opened with `open` on first use. */
  get(graph: Graph, open: (graph: Graph) => Promise<ort.InferenceSession>): Promise<ort.InferenceSession> {
    let s = this.sessions.get(graph);
    if (!s) {
      s = open(graph);
      this.sessions.set(graph, s);
      // A failed open must not poison the cache for the next job.
      s.catch(() => this.sessions.delete(graph));
    }
    return s;
  }

  /** Graphs whose session is open or opening. */
  graphs(): Graph[] {
    return [...this.sessions.keys()];
  }

  /** Releases every session (after opens still in flight settle; failed ones have nothing to release) and empties the cache. */
  async releaseAll(): Promise<void> {
    const all = await Promise.allSettled([...this.sessions.values()]);
    for (const s of all) if (s.status === 'fulfilled') await s.value.release();
    this.sessions.clear();
  }
}
