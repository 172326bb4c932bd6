// Passes every event on, except that a marked one ("mark": true) throws a
// TypeError: a bug, not a refusal, so the instance traps.

import { exportTransform } from "weir-sdk";

class Panic {
  transform(event, out) {
    const value = JSON.parse(event.text());
    if (value.mark) throw new TypeError(`poisoned event ${value.id}`);
    out.keep();
  }
}

export const transformer = exportTransform(Panic);
