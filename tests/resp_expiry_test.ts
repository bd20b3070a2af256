// Keys that expire while nobody writes them, as Redis 7.0 treats them: a
// watched key that was there at WATCH and expires before EXEC aborts the
// transaction (one already gone at WATCH does not), and DBSIZE does not count
// expired keys. Each script is run against Debian's redis-server and against
// cask, and the raw replies must be the same bytes.
import { installed } from "./redis_tools.ts";
import { assertSameAsRedis, type Step } from "./resp_steps.ts";

const hasRedis = await installed("redis-server");
if (!hasRedis) console.log("redis-server not on PATH (apt-get install redis-server): skipping");

const EXEC_PING: string[][] = [["MULTI"], ["PING"], ["EXEC"]];

const WATCH_SCRIPTS: Step[][] = [
  // Present at WATCH, expired at EXEC: aborted.
  [{ send: [["SET", "w", "1", "PX", "50"], ["WATCH", "w"]] }, { sleep: 200 }, { send: EXEC_PING }],
  // The same, its expiry seen by a read first.
  [
    { send: [["SET", "w", "1", "PX", "50"], ["WATCH", "w"]] },
    { sleep: 200 },
    { send: [["GET", "w"], ...EXEC_PING] },
  ],
  // Another client's key, watched alongside a key that stays.
  [
    { on: 1, send: [["SET", "w", "1", "PX", "50"], ["SET", "stays", "1"]] },
    { send: [["WATCH", "stays", "w"]] },
    { sleep: 200 },
    { send: EXEC_PING },
  ],
  // Already expired at WATCH: nothing changes by EXEC.
  [{ send: [["SET", "w", "1", "PX", "50"]] }, { sleep: 200 }, {
    send: [["WATCH", "w"], ...EXEC_PING],
  }],
  // Already expired at WATCH, then written: aborted.
  [
    { send: [["SET", "w", "1", "PX", "50"]] },
    { sleep: 200 },
    { send: [["WATCH", "w"], ["SET", "w", "2"], ...EXEC_PING] },
  ],
  // Expiring, but not yet at EXEC; absent throughout; no expiry at all.
  [{ send: [["SET", "w", "1", "PX", "100000"], ["WATCH", "w"], ...EXEC_PING] }],
  [{ send: [["WATCH", "w"]] }, { sleep: 100 }, { send: EXEC_PING }],
  [{ send: [["SET", "w", "1"], ["WATCH", "w"]] }, { sleep: 100 }, { send: EXEC_PING }],
  // UNWATCH forgets the expiry too.
  [
    { send: [["SET", "w", "1", "PX", "50"], ["WATCH", "w"], ["UNWATCH"]] },
    { sleep: 200 },
    { send: EXEC_PING },
  ],
];

Deno.test({
  name: "redis-server vs cask: a watched key that expires before EXEC aborts it",
  ignore: !hasRedis,
  async fn() {
    await assertSameAsRedis(WATCH_SCRIPTS);
  },
});

Deno.test({
  name: "redis-server vs cask: DBSIZE counts live keys only",
  ignore: !hasRedis,
  async fn() {
    await assertSameAsRedis([[
      { send: [["SET", "e1", "1", "PX", "50"], ["SET", "live", "1"]] },
      { sleep: 150 },
      { send: [["DBSIZE"], ["MULTI"], ["DBSIZE"], ["EXEC"], ["FLUSHALL"], ["DBSIZE"]] },
    ]]);
  },
});
