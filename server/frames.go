package server

import (
	"strconv"
	"sync"

	"github.com/reverb-go/reverb/server/phpjson"
	"github.com/reverb-go/reverb/server/websocket"
)

// pusherText builds a pusher: event as Reverb writes it (§3.1): keys event,
// data, channel; data is the PHP-JSON string of dataJSON; falsy keys
// (empty data, "" or "0" channel) omitted.
func pusherText(event string, dataJSON []byte, channel string) []byte {
	b := make([]byte, 0, 32+len(event)+len(dataJSON)*2+len(channel))
	b = append(b, `{"event":`...)
	b = phpjson.AppendString(b, event)
	if len(dataJSON) > 0 {
		b = append(b, `,"data":`...)
		b = phpjson.AppendString(b, string(dataJSON))
	}
	if channel != "" && channel != "0" {
		b = append(b, `,"channel":`...)
		b = phpjson.AppendString(b, channel)
	}
	return append(b, '}')
}

// internalText builds a pusher_internal: event: data always present.
func internalText(event string, dataJSON []byte, channel string) []byte {
	if len(dataJSON) == 0 {
		dataJSON = []byte("{}")
	}
	b := make([]byte, 0, 32+len(event)+len(dataJSON)*2+len(channel))
	b = append(b, `{"event":`...)
	b = phpjson.AppendString(b, event)
	b = append(b, `,"data":`...)
	b = phpjson.AppendString(b, string(dataJSON))
	if channel != "" && channel != "0" {
		b = append(b, `,"channel":`...)
		b = phpjson.AppendString(b, channel)
	}
	return append(b, '}')
}

// errorText is a pusher:error with code and message.
func errorText(code int, message string) []byte {
	d := make([]byte, 0, 32+len(message))
	d = append(d, `{"code":`...)
	d = strconv.AppendInt(d, int64(code), 10)
	d = append(d, `,"message":`...)
	d = phpjson.AppendString(d, message)
	d = append(d, '}')
	return pusherText("pusher:error", d, "")
}

func textFrame(text []byte) []byte { return websocket.AppendText(make([]byte, 0, len(text)+10), text) }

// Frames that never change, built once.
var (
	framePong    = sync.OnceValue(func() []byte { return textFrame(pusherText("pusher:pong", nil, "")) })
	framePing    = sync.OnceValue(func() []byte { return textFrame(pusherText("pusher:ping", nil, "")) })
	frameInvalid = sync.OnceValue(func() []byte { return textFrame(errorText(4200, "Invalid message format")) })
	frameUnauth  = sync.OnceValue(func() []byte { return textFrame(errorText(4009, "Connection is unauthorized")) })
	frameNotMem  = sync.OnceValue(func() []byte {
		return textFrame(errorText(4009, "The client is not a member of the specified channel."))
	})
	frameNoClient = sync.OnceValue(func() []byte { return textFrame(errorText(4301, "The app does not have client messaging enabled.")) })
	frameRate     = sync.OnceValue(func() []byte { return textFrame(errorText(4301, "Rate limit exceeded")) })
	frameNoApp    = sync.OnceValue(func() []byte { return textFrame(errorText(4001, "Application does not exist")) })
	frameQuota    = sync.OnceValue(func() []byte { return textFrame(errorText(4004, "Application is over connection quota")) })
	frameOrigin   = sync.OnceValue(func() []byte { return textFrame(errorText(4009, "Origin not allowed")) })
	frameStale    = sync.OnceValue(func() []byte { return textFrame(errorText(4201, "Pong reply not received in time")) })
)

// framePayload is the payload of an unmasked server frame (the text a
// MessageSent reports); nil when frame is not one.
func framePayload(frame []byte) []byte {
	if len(frame) < 2 {
		return nil
	}
	n, h := int(frame[1]&0x7f), 2
	switch n {
	case 126:
		if len(frame) < 4 {
			return nil
		}
		n, h = int(frame[2])<<8|int(frame[3]), 4
	case 127:
		if len(frame) < 10 {
			return nil
		}
		n = 0
		for _, b := range frame[2:10] {
			n = n<<8 | int(b)
		}
		h = 10
	}
	if n < 0 || len(frame) < h+n {
		return nil
	}
	return frame[h : h+n]
}
