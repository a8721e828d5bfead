/** One agent feature (presence, snapshot, schedule, ...): started after wiring, stopped on shutdown. */
export interface Feature {
  readonly name: string;
  start(): Promise<void>;
  /**
   * Runs on every (re)connect, feature after feature in the agent's order: the snapshot feature has
   * subscribed and read its shadow before presence announces `online` (which makes the cloud write a
   * new request), so a request written while the agent was offline is read first, never overwritten
   * unseen.
   * Contract: never throws or rejects; a feature catches and logs its own errors. main still isolates
   * each call (feature-calls.ts) so that a broken feature cannot stop the others or later reconnects.
   */
  onConnected?(): Promise<void>;
  /** Finishes or abandons in-flight work within its own bound; never throws. */
  stop(): Promise<void>;
}
