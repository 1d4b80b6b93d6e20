package api

import (
	"strconv"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/phpjson"
)

// object builds a JSON object the way a PHP (object) cast encodes: always
// "{...}", keys in insertion order, values already Symfony-JSON. It is a
// tiny append-only writer; the zero value is an empty object.
type object struct {
	b []byte
}

func (o *object) key(k string) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.b = phpjson.AppendSymfonyString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *object) bool(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

func (o *object) int(k string, v int) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, int64(v), 10)
}

func (o *object) value(k string, v php.Value) {
	o.key(k)
	o.b = phpjson.AppendSymfony(o.b, v)
}

// bytes returns the finished object.
func (o *object) bytes() []byte {
	if len(o.b) == 0 {
		return []byte("{}")
	}
	return append(o.b, '}')
}

// keyedList is a PHP array of (object) values keyed by strings or ints:
// PHP normalises the keys ("1" is int 1), a repeated key keeps its first
// position with the last value, and the whole array encodes as a JSON list
// when its keys are exactly 0..n-1 ({"channels":[]} when empty).
type keyedList struct {
	keys   []php.Key
	values [][]byte
	index  map[php.Key]int
}

func (l *keyedList) set(k php.Key, v []byte) {
	if l.index == nil {
		l.index = map[php.Key]int{}
	}
	if i, ok := l.index[k]; ok {
		l.values[i] = v
		return
	}
	l.index[k] = len(l.keys)
	l.keys = append(l.keys, k)
	l.values = append(l.values, v)
}

func (l *keyedList) appendJSON(dst []byte) []byte {
	isList := true
	for i, k := range l.keys {
		if !k.IsInt || k.I != int64(i) {
			isList = false
			break
		}
	}
	if isList {
		dst = append(dst, '[')
		for i, v := range l.values {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, v...)
		}
		return append(dst, ']')
	}
	dst = append(dst, '{')
	for i, k := range l.keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = phpjson.AppendSymfonyKey(dst, k)
		dst = append(dst, ':')
		dst = append(dst, l.values[i]...)
	}
	return append(dst, '}')
}
