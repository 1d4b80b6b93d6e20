package pulse

import "strconv"

// The entry types of Reverb's ReverbMessages recorder.
const (
	TypeSent     = "reverb_message:sent"
	TypeReceived = "reverb_message:received"
)

// AppendEntry appends PHP's serialize() of the Laravel\Pulse\Entry the
// recorder builds for one message: count aggregation, buckets only, no
// value. The bytes must be exactly PHP's, because `php artisan pulse:work`
// unserializes them (declared protected properties first, then the
// constructor-promoted public ones; laravel-integration.md §4.4).
func AppendEntry(b []byte, timestamp int64, typ, key string) []byte {
	b = append(b, `O:19:"Laravel\Pulse\Entry":6:{`...)
	b = append(b, "s:15:\"\x00*\x00aggregations\";a:1:{i:0;s:5:\"count\";}"...)
	b = append(b, "s:14:\"\x00*\x00onlyBuckets\";b:1;"...)
	b = append(b, `s:9:"timestamp";i:`...)
	b = strconv.AppendInt(b, timestamp, 10)
	b = append(b, `;s:4:"type";`...)
	b = appendString(b, typ)
	b = append(b, `s:3:"key";`...)
	b = appendString(b, key)
	b = append(b, `s:5:"value";N;}`...)
	return b
}

// appendString is PHP's s:<byte length>:"<bytes>"; (no escaping).
func appendString(b []byte, s string) []byte {
	b = append(b, "s:"...)
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ":\""...)
	b = append(b, s...)
	return append(b, "\";"...)
}
