'use strict';
// Preloaded with `node --require` in front of kinesis-mock. Its servers listen on every
// interface and it has no setting for the host, so this puts every TCP listen() of the process
// on the loopback interface instead. Unix sockets and inherited handles pass through unchanged.

const net = require('net');

const LOOPBACK = '127.0.0.1';
const originalListen = net.Server.prototype.listen;

function isPort(value) {
  return typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value));
}

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const callback = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
  const [first, ...rest] = args;
  let options;
  if (first === undefined || first === null || isPort(first)) {
    // listen([port[, host[, backlog]]]): the host, if any, is replaced.
    options = { port: first === undefined || first === null ? 0 : Number(first) };
    const backlog = rest.find((value) => typeof value === 'number');
    if (backlog !== undefined) {
      options.backlog = backlog;
    }
  } else if (typeof first === 'object' && 'port' in first) {
    options = { ...first };
  } else {
    return originalListen.apply(this, callback ? [...args, callback] : args);
  }
  options.host = LOOPBACK;
  return originalListen.apply(this, callback ? [options, callback] : [options]);
};
