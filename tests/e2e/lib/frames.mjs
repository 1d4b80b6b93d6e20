// Expected wire frames of the Pusher protocol as Reverb writes them (spec §3.1, §3.7, §3.10).
// All builders return exact strings: for the ASCII payloads used in the tests,
// JSON.stringify produces the same bytes as PHP's json_encode.

export const pusherError = (code, message) =>
  JSON.stringify({ event: 'pusher:error', data: JSON.stringify({ code, message }) });

export const ERR = Object.freeze({
  appMissing: pusherError(4001, 'Application does not exist'),
  overQuota: pusherError(4004, 'Application is over connection quota'),
  originNotAllowed: pusherError(4009, 'Origin not allowed'),
  unauthorized: pusherError(4009, 'Connection is unauthorized'),
  notMember: pusherError(4009, 'The client is not a member of the specified channel.'),
  invalidFormat: pusherError(4200, 'Invalid message format'),
  pongTimeout: pusherError(4201, 'Pong reply not received in time'),
  rateLimited: pusherError(4301, 'Rate limit exceeded'),
  clientEventsDisabled: pusherError(4301, 'The app does not have client messaging enabled.'),
});

export const PONG = '{"event":"pusher:pong"}';
export const PING = '{"event":"pusher:ping"}';

export const established = (socketId, activityTimeout = 30) =>
  JSON.stringify({ event: 'pusher:connection_established', data: JSON.stringify({ socket_id: socketId, activity_timeout: activityTimeout }) });

/** subscription_succeeded; data is the exact data string ("{}" for non-presence). */
export const succeeded = (channel, data = '{}') =>
  JSON.stringify(channel === '' ? { event: 'pusher_internal:subscription_succeeded', data } : { event: 'pusher_internal:subscription_succeeded', data, channel });

export const cacheMiss = (channel) => JSON.stringify({ event: 'pusher:cache_miss', channel });

export const memberAdded = (channel, channelData) =>
  JSON.stringify({ event: 'pusher_internal:member_added', data: typeof channelData === 'string' ? channelData : JSON.stringify(channelData), channel });

export const memberRemoved = (channel, userId) =>
  JSON.stringify({ event: 'pusher_internal:member_removed', data: JSON.stringify({ user_id: userId }), channel });

/** A POST /events broadcast (key order event, data, channel). */
export const apiEvent = (channel, name, data) => JSON.stringify({ event: name, data, channel });

/** A POST /batch_events broadcast (key order event, channel, data). */
export const batchEvent = (channel, name, data) => JSON.stringify({ event: name, channel, data });

/** Presence subscription data string for members [{user_id, user_info}] (deduplicated by the caller). */
export const presenceData = (members) => {
  // Built by hand: JS objects reorder integer-like keys, PHP keeps insertion order.
  const hash = members.map((m) => `${JSON.stringify(String(m.user_id))}:${JSON.stringify(m.user_info === undefined ? null : m.user_info)}`).join(',');
  return `{"presence":{"count":${members.length},"ids":${JSON.stringify(members.map((m) => m.user_id))},"hash":{${hash}}}}`;
};

/**
 * PHP json_encode with default flags (spec §13.1) for values without floats: `/` escaped,
 * every non-ASCII UTF-16 unit as a lowercase \uXXXX escape.
 */
export const phpJson = (v) =>
  JSON.stringify(v)
    .replace(/\//g, '\\/')
    .replace(/[\u007f-\uffff]/g, (ch) => (ch === '\u007f' ? ch : '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0')));
