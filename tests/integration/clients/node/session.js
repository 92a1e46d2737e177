// MQTT.js behind the client-matrix protocol (../protocol.py), one copy for Node
// (driver.js) and the browser (browser.html): the commands, connections and answers are
// the same, only where the commands come from and how the CA is trusted differ.
(function (exports) {
  'use strict';

  const VERSIONS = { '3.1': 3, '3.1.1': 4, '5': 5 };
  const TIMEOUT_MS = 15000;

  // `mqtt` is the library (require('mqtt') or the browser bundle's global); `readCa`
  // turns a CA file name into what MQTT.js's `ca` option takes, or is null in the
  // browser, which trusts the test CA through its certificate store.
  function create(mqtt, readCa) {
    const connections = new Map();

    function within(promise, what) {
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no ${what} within ${TIMEOUT_MS} ms`)),
          TIMEOUT_MS);
      });
      return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
    }

    function connect(c) {
      const version = VERSIONS[c.version];
      const options = {
        clientId: c.client_id,
        username: c.username,
        password: c.password,
        clean: c.clean,
        protocolVersion: version,
        // A 3.1 CONNECT names the protocol MQIsdp.
        protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
        reconnectPeriod: 0, // a lost connection is a result here, not something to hide
        connectTimeout: TIMEOUT_MS,
      };
      if (readCa) options.ca = readCa(c.ca);
      if (version === 5) options.properties = { sessionExpiryInterval: c.session_expiry };
      if (c.will) options.will = c.will;
      const url = c.transport === 'wss' ? `wss://${c.host}:${c.port}${c.path}`
        : `mqtts://${c.host}:${c.port}`;
      const client = mqtt.connect(url, options);
      const connection = { client, inbox: [], waiters: [] };
      client.on('message', (topic, payload, packet) => {
        connection.inbox.push({ topic, payload: payload.toString(), qos: packet.qos,
                                retain: packet.retain });
        connection.waiters.forEach((wake) => wake());
      });
      connections.set(c.name, connection);
      return within(new Promise((resolve, reject) => {
        client.once('connect', (connack) => resolve({ ok: true,
                                                      session_present: connack.sessionPresent }));
        client.once('error', reject);
        client.once('close', () => reject(new Error('closed before CONNACK')));
      }), 'CONNACK');
    }

    function subscribe(c) {
      const { client } = connections.get(c.name);
      const filters = {};
      c.filters.forEach(([filter, qos]) => { filters[filter] = { qos }; });
      return within(new Promise((resolve) => {
        // A refused filter is an error to MQTT.js; the SUBACK still tells its code.
        client.subscribe(filters, (err, _subs, suback) => {
          if (suback && suback.granted) resolve({ ok: true, granted: suback.granted });
          else resolve({ ok: false, error: String(err) });
        });
      }), 'SUBACK');
    }

    function publish(c) {
      const { client } = connections.get(c.name);
      return within(new Promise((resolve) => {
        client.publish(c.topic, c.payload, { qos: c.qos, retain: c.retain }, (err, packet) => {
          const reason = err && err.code !== undefined ? err.code
            : packet && packet.reasonCode !== undefined ? packet.reasonCode : null;
          if (err && reason === null) resolve({ ok: false, error: String(err) });
          else resolve({ ok: true, reason });
        });
      }), `end of the QoS ${c.qos} flow`);
    }

    function receive(c) {
      const connection = connections.get(c.name);
      const complete = () => c.topics.every((t) => connection.inbox.some((m) => m.topic === t));
      return new Promise((resolve) => {
        const finish = (ok) => {
          connection.waiters = connection.waiters.filter((w) => w !== check);
          clearTimeout(timer);
          const messages = connection.inbox;
          connection.inbox = [];
          resolve(ok ? { ok, messages } : { ok, messages,
            error: `timed out after ${c.timeout}s waiting for ${c.topics}` });
        };
        const check = () => { if (complete()) finish(true); };
        const timer = setTimeout(() => finish(false), c.timeout * 1000);
        connection.waiters.push(check);
        check();
      });
    }

    function end(c, force) {
      const { client } = connections.get(c.name);
      connections.delete(c.name);
      // force: the stream is destroyed without DISCONNECT, as when the client crashes.
      return within(new Promise((resolve) => client.end(force, {}, () => resolve({ ok: true }))),
        'close');
    }

    const handlers = {
      connect, subscribe, publish, receive,
      disconnect: (c) => end(c, false),
      drop: (c) => end(c, true),
    };

    return async function run(command) {
      try {
        return await handlers[command.op](command);
      } catch (e) {
        return { ok: false, error: String(e && e.message ? e.message : e) };
      }
    };
  }

  exports.create = create;
}(typeof module !== 'undefined' ? module.exports : (window.moatSession = {})));
