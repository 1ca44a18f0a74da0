'use strict';
// Starts kinesalite on 127.0.0.1 only: its command line listens on every interface and has no
// setting for the host. Usage: node serve.js <kinesalite package folder> <port>. Data is kept in
// memory (no --path), so nothing outlives the process. Stream state changes take 10 ms instead
// of 500 ms, which is all the tests and the demo wait for. Its default limit of 10 shards, summed
// over all streams, would refuse streams once a test session has made a few; it is raised.

const path = require('path');

const [packageDir, port] = process.argv.slice(2);
if (!packageDir || !/^\d+$/.test(port || '')) {
  console.error('usage: node serve.js <kinesalite package folder> <port>');
  process.exit(2);
}

const kinesalite = require(path.resolve(packageDir));
const server = kinesalite({
  createStreamMs: 10,
  deleteStreamMs: 10,
  updateStreamMs: 10,
  shardLimit: 100000,
});
server.listen(Number(port), '127.0.0.1', () => {
  const address = server.address();
  console.log(`kinesalite listening at http://${address.address}:${address.port}`);
});
