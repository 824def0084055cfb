"use strict";
// matrix-bot-sdk requires this module when it loads, but only uses it when
// encryption is enabled. The benchmark peer never enables encryption, so any
// use of it is a bug in the peer: fail loudly.
module.exports = new Proxy(
  {},
  {
    get(_target, prop) {
      if (typeof prop === "symbol" || prop === "__esModule" || prop === "then") {
        return undefined;
      }
      throw new Error(
        `matrix-sdk-crypto-nodejs is stubbed out in the benchmark peer (used: ${String(prop)})`,
      );
    },
  },
);
