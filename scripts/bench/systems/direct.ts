// "direct": the load generators talk straight to the upstream services (the baseline).

import type { BenchSystem } from "./types.ts";

export const direct: BenchSystem = {
  id: "direct",
  label: "direct",
  start(upstream) {
    return Promise.resolve({
      entry: { ...upstream },
      rss: () => Promise.resolve(null),
      cpu: () => Promise.resolve(null),
      info: {},
      stop: () => Promise.resolve(),
    });
  },
};
