package api

// Pusher's limits an app opted in to (laravelcfg.Limits), on the HTTP API:
// channels per event, batch size, event name length, data size. Off by
// default, so Reverb's answers stay the default. Pusher answers 413 with
// the text below for data over the limit; for the others Pusher documents
// no text, so these are soketi's, with 400.

import (
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
)

// PayloadTooLarge is Pusher's answer to an event whose data is over the
// limit (HTTP 413 from the API; a pusher:error to a client event).
func PayloadTooLarge(maxBytes int) string {
	return "The data content of this event exceeds the allowed maximum (" + strconv.Itoa(maxBytes) +
		" bytes). See https://pusher.com/docs/channels/server_api/http-api#publishing-events for more info"
}

// NameTooLong is the answer to an event whose name is over the limit.
func NameTooLong(max int) string {
	return "Event name is too long. Maximum allowed size is " + strconv.Itoa(max) + "."
}

// limitError is a limit's answer: a status and its plain-text message.
type limitError struct {
	status int
	msg    string
}

func (e *limitError) Error() string { return e.msg }

// checkEvent checks one event's name, data and channels against l; nil
// when within them.
func checkEvent(l *laravelcfg.Limits, name, data string, channels int) *limitError {
	if l.EventChannels > 0 && channels > l.EventChannels {
		return &limitError{http.StatusBadRequest, "Cannot broadcast to more than " + strconv.Itoa(l.EventChannels) + " channels at once"}
	}
	if l.EventNameLength > 0 && utf8.RuneCountInString(name) > l.EventNameLength {
		return &limitError{http.StatusBadRequest, NameTooLong(l.EventNameLength)}
	}
	if l.EventPayloadBytes > 0 && len(data) > l.EventPayloadBytes {
		return &limitError{http.StatusRequestEntityTooLarge, PayloadTooLarge(l.EventPayloadBytes)}
	}
	return nil
}

// checkBatchSize checks the number of events of a batch.
func checkBatchSize(l *laravelcfg.Limits, n int) *limitError {
	if l.EventBatchSize > 0 && n > l.EventBatchSize {
		return &limitError{http.StatusBadRequest, "Cannot batch-send more than " + strconv.Itoa(l.EventBatchSize) + " messages at once"}
	}
	return nil
}

// checkBatch checks a batch's size and each item (one channel each), so a
// batch over a limit publishes nothing.
func checkBatch(l *laravelcfg.Limits, items *php.OrderedArray) *limitError {
	if le := checkBatchSize(l, items.Len()); le != nil {
		return le
	}
	if l.EventNameLength == 0 && l.EventPayloadBytes == 0 {
		return nil
	}
	for _, v := range items.Values {
		if v.Kind() != php.Array {
			continue
		}
		name, _ := v.ArrayVal().GetString("name")
		data, _ := v.ArrayVal().GetString("data")
		if le := checkEvent(l, name.StringVal(), data.StringVal(), 1); le != nil {
			return le
		}
	}
	return nil
}
