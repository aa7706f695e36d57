// The guest side of TensorBoard's iframe plugin protocol.
//
// The guest posts the string 'experimental.bootstrap' to its parent with a MessagePort; from then
// on both sides send JSON strings {type, id, payload, error, isReply} over the port, and every
// message that is not a reply gets exactly one reply (isReply: true) with the same type and id.

export const MESSAGES = {
  DATA_RELOADED: 'experimental.DataReloaded',
  RUNS_CHANGED: 'experimental.RunsChanged',
  GET_RUNS: 'experimental.GetRuns',
  GET_URL_DATA: 'experimental.GetURLPluginData',
};

/**
 * Connects to the TensorBoard host, if there is one.
 * @param {Object<string, function(any): any>} handlers message type -> handler (may be async);
 *   its result is the reply's payload, a thrown error its `error`.
 * @returns {{send(type: string, payload?: any, timeoutMs?: number): Promise<any>, connected: boolean}}
 */
export function connectHost(handlers, {target = window.parent, origin = window.location.origin} = {}) {
  if (!target || target === window) {
    return {connected: false, send: () => Promise.reject(new Error('no TensorBoard host'))};
  }
  const channel = new MessageChannel();
  const port = channel.port1;
  const waiting = new Map();
  let nextId = 0;

  const post = (message) => port.postMessage(JSON.stringify(message));

  port.onmessage = async (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return; // not ours
    }
    if (!message || typeof message.type !== 'string') return;
    if (message.isReply) {
      const wait = waiting.get(message.id);
      if (!wait) return;
      waiting.delete(message.id);
      if (message.error) wait.reject(new Error(String(message.error)));
      else wait.resolve(message.payload);
      return;
    }
    let payload = null;
    let error = null;
    const handler = handlers[message.type];
    if (handler) {
      try {
        const result = await handler(message.payload);
        payload = result === undefined ? null : result;
      } catch (e) {
        error = String((e && e.message) || e);
      }
    }
    post({type: message.type, id: message.id, payload, error, isReply: true});
  };
  target.postMessage('experimental.bootstrap', origin, [channel.port2]);

  return {
    connected: true,
    send(type, payload = null, timeoutMs = 2000) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        waiting.set(id, {resolve, reject});
        post({type, id, payload, error: null, isReply: false});
        setTimeout(() => {
          if (waiting.delete(id)) reject(new Error(`${type}: no answer from TensorBoard`));
        }, timeoutMs);
      });
    },
  };
}
