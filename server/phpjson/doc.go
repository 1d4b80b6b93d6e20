// Package phpjson reads and writes JSON exactly as PHP does: Decode is
// json_decode($s, true) (objects become PHP arrays, so "1" keys become ints
// and big integers become floats) and Append is json_encode with default
// flags (escaped slashes, \uXXXX for every non-ASCII code point, shortest
// round-trip floats). The Symfony variants add the JsonResponse flags
// (JSON_HEX_TAG|JSON_HEX_APOS|JSON_HEX_AMP|JSON_HEX_QUOT) used by Reverb's
// HTTP API. Byte-exactness matters where PHP reads our bytes (Redis
// messages to PHP Reverb nodes, cached payloads) and for the frames pusher-js
// clients compare against Reverb.
package phpjson
