package server

import (
	"bytes"
	"crypto/tls"
	"math"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/phpjson"
)

func TestStrIs(t *testing.T) {
	cases := []struct {
		pattern, value string
		want           bool
	}{
		{"localhost", "localhost", true},
		{"*.localhost", "sub.localhost", true},
		{"*.localhost", "localhost", false},
		{"*", "", true},
		{"a*b*c", "a-x-b-y-c", true},
		{"a*b*c", "a-x-c", false},
		{"*laravel.com", "laravel.com", true},
		{"Laravel.com", "laravel.com", false},
		{"", "", true},
		{"", "x", false},
	}
	for _, tc := range cases {
		if got := strIs(tc.pattern, tc.value); got != tc.want {
			t.Errorf("strIs(%q, %q) = %v", tc.pattern, tc.value, got)
		}
	}
}

func TestLooseKey(t *testing.T) {
	same := [][2]php.Value{
		{php.IntValue(1), php.StringValue("1")},
		{php.StringValue("1"), php.StringValue("01")},
		{php.StringValue("1.0"), php.IntValue(1)},
		{php.StringValue("abc"), php.StringValue("abc")},
		{php.BoolValue(true), php.IntValue(1)},
	}
	for _, p := range same {
		if looseKey(p[0]) != looseKey(p[1]) {
			t.Errorf("%v and %v should be the same user", p[0], p[1])
		}
	}
	diff := [][2]php.Value{
		{php.StringValue("abc"), php.StringValue("ABC")},
		{php.IntValue(1), php.IntValue(2)},
		{php.StringValue("1e3x"), php.StringValue("1000")},
	}
	for _, p := range diff {
		if looseKey(p[0]) == looseKey(p[1]) {
			t.Errorf("%v and %v should differ", p[0], p[1])
		}
	}
}

func TestPHPStringOfFloats(t *testing.T) {
	// (string) of a float, as PHP 8 writes it (precision 14): user ids
	// decoded from channel_data are compared this way by terminate.
	cases := []struct {
		f    float64
		want string
	}{
		{1000, "1000"},
		{1.5, "1.5"},
		{math.Copysign(0, -1), "-0"},
		{1e20, "1.0E+20"},
		{1e-5, "1.0E-5"},
		{12345678901234567890, "1.2345678901235E+19"},
		{1e15, "1.0E+15"},
		{1e14, "1.0E+14"},
		{123456789012345, "1.2345678901234E+14"},
		{0.1, "0.1"},
	}
	for _, tc := range cases {
		if got := phpString(php.FloatValue(tc.f)); got != tc.want {
			t.Errorf("phpString(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
	if looseKey(php.FloatValue(math.Copysign(0, -1))) != looseKey(php.IntValue(0)) {
		t.Error("-0.0 and 0 should be the same user")
	}
}

func TestTruthy(t *testing.T) {
	cases := []struct {
		v    php.Value
		want bool
	}{
		{php.Value{}, false},
		{php.IntValue(0), false},
		{php.StringValue("0"), false},
		{php.StringValue(""), false},
		{php.StringValue("0.0"), true},
		{php.FloatValue(0), false},
		{php.ArrayValue(php.NewArray()), false},
		{php.IntValue(7), true},
		{php.StringValue("a"), true},
	}
	for _, tc := range cases {
		if got := truthy(tc.v); got != tc.want {
			t.Errorf("truthy(%v) = %v", tc.v, got)
		}
	}
}

func TestDataAsSent(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"a":{}}`, `{"a":{}}`},
		{`"{\"a\":1}"`, `{"a":1}`},
		{`"[1,2]"`, `[1,2]`},
		{`"plain"`, `"plain"`},
		{`"123"`, `"123"`},
		{`null`, `null`},
		{`"{broken"`, `"{broken"`},
	}
	for _, tc := range cases {
		if got := string(dataAsSent([]byte(tc.in))); got != tc.want {
			t.Errorf("dataAsSent(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestAppendPHPRaw(t *testing.T) {
	cases := []struct{ in, want string }{
		{`"App\\Events\\X"`, `"App\\Events\\X"`},
		{`"{\"url\":\"http://x\"}"`, `"{\"url\":\"http:\/\/x\"}"`},
		{`"é"`, `"\u00e9"`},
		{`123`, `123`},
		{``, `null`},
	}
	for _, tc := range cases {
		if got := string(appendPHPRaw(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("appendPHPRaw(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestUnwritten(t *testing.T) {
	bufs := [][]byte{[]byte("abc"), []byte("de"), []byte("fgh")}
	cases := []struct {
		n    int
		want string
	}{
		{0, "abcdefgh"}, {2, "cdefgh"}, {3, "defgh"}, {4, "efgh"}, {5, "fgh"}, {7, "h"}, {8, ""},
	}
	for _, tc := range cases {
		if got := string(bytes.Join(unwritten(bufs, tc.n), nil)); got != tc.want {
			t.Errorf("unwritten(%d) = %q, want %q", tc.n, got, tc.want)
		}
		if got := string(bytes.Join(unwrittenInPlace(bufs, tc.n), nil)); got != tc.want {
			t.Errorf("unwrittenInPlace(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if string(bufs[0]) != "abc" {
		t.Fatal("frames were modified")
	}
}

func TestAppIDFromToken(t *testing.T) {
	cases := []struct{ tok, want string }{
		{"123456", "123456"},
		{"O:26:\"Laravel\\Reverb\\Application\":11:{s:5:\"\x00*\x00id\";s:6:\"123456\";s:6:\"\x00*\x00key\";}", "123456"},
		{"O:26:broken", ""},
	}
	for _, tc := range cases {
		if got := appIDFromToken(tc.tok); got != tc.want {
			t.Errorf("appIDFromToken(%q) = %q, want %q", tc.tok, got, tc.want)
		}
	}
}

type embeddingWrapper struct {
	net.Conn
}

type netConnWrapper struct{ inner net.Conn }

func (w netConnWrapper) Read(p []byte) (int, error)         { return w.inner.Read(p) }
func (w netConnWrapper) Write(p []byte) (int, error)        { return w.inner.Write(p) }
func (w netConnWrapper) Close() error                       { return w.inner.Close() }
func (w netConnWrapper) LocalAddr() net.Addr                { return w.inner.LocalAddr() }
func (w netConnWrapper) RemoteAddr() net.Addr               { return w.inner.RemoteAddr() }
func (w netConnWrapper) SetDeadline(t time.Time) error      { return w.inner.SetDeadline(t) }
func (w netConnWrapper) SetReadDeadline(t time.Time) error  { return w.inner.SetReadDeadline(t) }
func (w netConnWrapper) SetWriteDeadline(t time.Time) error { return w.inner.SetWriteDeadline(t) }
func (w netConnWrapper) NetConn() net.Conn                  { return w.inner }

func TestRawTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(time.Second)
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cases := []struct {
		name string
		conn net.Conn
		ok   bool
	}{
		{"plain", nc, true},
		{"embedding wrapper (the supervisor's drain listener)", &embeddingWrapper{Conn: nc}, true},
		{"NetConn wrapper", netConnWrapper{nc}, true},
		{"TLS is never unwrapped", tls.Client(nc, &tls.Config{InsecureSkipVerify: true}), false},
		{"in-memory pipe", newDiscardConn(), false},
	}
	for _, tc := range cases {
		got, ok := rawTCP(tc.conn)
		if ok != tc.ok || (ok && got != nc) {
			t.Errorf("%s: rawTCP = %v, %v", tc.name, got, ok)
		}
	}
}

// A float user id becomes the array key PHP gives it: truncated, and out
// of int64's range wrapped modulo 2^64 (values from php -r 'array_keys(...)').
func TestArrayKeyOfFloat(t *testing.T) {
	cases := []struct {
		f    float64
		want int64
	}{
		{1.5, 1},
		{-1.5, -1},
		{1e300, 0},
		{12345678901234567890.0, -6101065172474984448},
		{-1e19, 8446744073709551616},
		{9.3e18, -9146744073709551616},
	}
	for _, tc := range cases {
		if got := arrayKeyOf(php.FloatValue(tc.f)); got != php.IntKey(tc.want) {
			t.Errorf("arrayKeyOf(%g) = %v, want %d", tc.f, got, tc.want)
		}
	}
}

func TestPresenceUsersListMembersWithoutIDAsNull(t *testing.T) {
	// /channels/{c}/users agrees with user_count: members whose
	// channel_data has a null (or no) user_id are one user, listed with a
	// null id as Reverb lists a null user_id.
	decode := func(s string) php.Value {
		v, err := phpjson.Decode([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	p := &presenceChannel{}
	for i, cd := range []string{`{"user_id":1,"user_info":{}}`, `{"user_id":null,"user_info":{}}`, `{"user_info":{}}`, `{"user_id":"1"}`} {
		p.members = append(p.members, newMember("n", strconv.Itoa(i), decode(cd)))
	}
	ids := p.users()
	if len(ids) != 2 || ids[0].Kind() != php.Int || ids[1].Kind() != php.Null {
		t.Fatalf("users() = %v, want [1 null]", ids)
	}
	if n := p.userCount(); n != len(ids) {
		t.Errorf("userCount() = %d, users() lists %d", n, len(ids))
	}
}
