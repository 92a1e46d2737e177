// MQTT.js under Node behind the client-matrix protocol (../protocol.py): commands on
// stdin, answers on stdout, one JSON document a line, in order.
'use strict';

const fs = require('fs');
const readline = require('readline');
const mqtt = require('mqtt');
const run = require('./session').create(mqtt, (file) => fs.readFileSync(file));

(async () => {
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    process.stdout.write(`${JSON.stringify(await run(JSON.parse(line)))}\n`);
  }
  process.exit(0);
})();
