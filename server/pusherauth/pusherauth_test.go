package pusherauth

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg/phptest"
)

func TestChannelVectors(t *testing.T) {
	const secret, socket = "reverb-secret", "1234.5678"
	const privateSig = "93e4dfc802ead4620b46420d2017ccfba204115cb461b991ced434e296e43789"
	const presenceData = `{"user_id":1,"user_info":{"name":"Joe"}}`
	const presenceSig = "e241a3fd32f100c18d79fef039cbfc310e4278dcd67d833ba400ff56b2f35fdd"
	tests := []struct {
		name, channel, data string
		hasData             bool
		auth                string
		want                bool
	}{
		{"private with key", "private-foo", "", false, "reverb-key:" + privateSig, true},
		{"private bare signature", "private-foo", "", false, privateSig, true},
		{"key part not checked", "private-foo", "", false, "other-key:" + privateSig, true},
		{"split at first colon", "private-foo", "", false, "a:" + privateSig + ":x", false},
		{"uppercase hex fails", "private-foo", "", false, "reverb-key:" + strings.ToUpper(privateSig), false},
		{"null auth", "private-foo", "", false, "", false},
		{"invalid", "private-foo", "", false, "invalid-signature", false},
		{"wrong channel", "private-bar", "", false, "reverb-key:" + privateSig, false},
		{"presence", "presence-room", presenceData, true, "reverb-key:" + presenceSig, true},
		{"presence data ignored when absent", "presence-room", presenceData, false, "reverb-key:" + presenceSig, false},
		{"empty channel_data not signed", "private-foo", "", true, privateSig, true},
	}
	for _, tt := range tests {
		if got := ValidChannelAuth(secret, socket, tt.channel, tt.data, tt.hasData, tt.auth); got != tt.want {
			t.Errorf("%s: ValidChannelAuth = %v, want %v", tt.name, got, tt.want)
		}
	}
	if ChannelSignature(secret, socket, "private-foo", "0") != privateSig {
		t.Error(`channel_data "0" is falsy in PHP and must not be signed`)
	}
}

func TestAPIVectors(t *testing.T) {
	const secret = "reverb-secret"
	body := []byte(`{"name":"NewEvent","channel":"test-channel","data":"{\"some\":\"data\"}"}`)
	params := ParseStr("auth_key=reverb-key&auth_timestamp=1700000000&auth_version=1.0&body_md5=ignored")
	got, err := StringToSign("POST", "/apps/123456/events", params, body)
	want := "POST\n/apps/123456/events\nauth_key=reverb-key&auth_timestamp=1700000000&auth_version=1.0&body_md5=6f2bc7101f3dd1b200be448074f61ddb"
	if err != nil || got != want {
		t.Fatalf("StringToSign = %q, %v\nwant %q", got, err, want)
	}
	const postSig = "5d4e48431344510bd15a01fdf39d90214f50943262a1c028564a2b805b11ec84"
	if s := sign(secret, got); s != postSig {
		t.Fatalf("signature %s", s)
	}
	const getSig = "0a4e8593b26d4fa29d864b761a9d4a9a6c810b4fd76d5a22a1eb1387b3922196"
	getQuery := "info=user_count%2Csubscription_count&auth_version=1.0&auth_timestamp=1700000000&auth_key=reverb-key&auth_signature=" + getSig
	postQuery := "auth_key=reverb-key&auth_timestamp=1700000000&auth_version=1.0&body_md5=6f2bc7101f3dd1b200be448074f61ddb&auth_signature=" + postSig

	tests := []struct {
		name, method, path, query string
		body                      []byte
		prefixes                  []string
		want                      bool
	}{
		{"post vector", "POST", "/apps/123456/events", postQuery, body, nil, true},
		{"post without client body_md5", "POST", "/apps/123456/events", strings.Replace(postQuery, "body_md5=6f2bc7101f3dd1b200be448074f61ddb&", "", 1), body, nil, true},
		{"post body changed", "POST", "/apps/123456/events", postQuery, append(body, ' '), nil, false},
		{"get vector", "GET", "/apps/123456/channels/presence-room", getQuery, nil, nil, true},
		{"get with prefix in path", "GET", "/ws/apps/123456/channels/presence-room", getQuery, nil, []string{"/ws"}, true},
		{"get with prefix, trailing slash config", "GET", "/ws/apps/123456/channels/presence-room", getQuery, nil, []string{"/ws/"}, true},
		{"prefix not accepted unless configured", "GET", "/ws/apps/123456/channels/presence-room", getQuery, nil, nil, false},
		{"method matters", "HEAD", "/apps/123456/channels/presence-room", getQuery, nil, nil, false},
		{"timestamp changed", "GET", "/apps/123456/channels/presence-room", strings.Replace(getQuery, "1700000000", "1700000001", 1), nil, nil, false},
		{"no signature", "GET", "/apps/123456/channels/presence-room", "auth_key=reverb-key", nil, nil, false},
		{"signature array", "GET", "/apps/123456/channels/presence-room", strings.Replace(getQuery, "auth_signature=", "auth_signature[]=", 1), nil, nil, false},
		{"uppercase signature", "GET", "/apps/123456/channels/presence-room", strings.Replace(getQuery, getSig, strings.ToUpper(getSig), 1), nil, nil, false},
	}
	for _, tt := range tests {
		if got := VerifyAPI(secret, tt.method, tt.path, tt.query, tt.body, tt.prefixes...); got != tt.want {
			t.Errorf("%s: VerifyAPI = %v, want %v", tt.name, got, tt.want)
		}
	}

	// Opt-in freshness check; the vector's timestamp is old.
	opts := APIOptions{MaxAge: 600 * time.Second, Now: func() time.Time { return time.Unix(1700000100, 0) }}
	if !VerifyAPIWith(opts, secret, "GET", "/apps/123456/channels/presence-room", getQuery, nil) {
		t.Error("fresh request rejected")
	}
	opts.Now = func() time.Time { return time.Unix(1700001000, 0) }
	if VerifyAPIWith(opts, secret, "GET", "/apps/123456/channels/presence-room", getQuery, nil) {
		t.Error("stale request accepted with MaxAge")
	}
	if !VerifyAPI(secret, "GET", "/apps/123456/channels/presence-room", getQuery, nil) {
		t.Error("stale request rejected without MaxAge (Reverb has no freshness check)")
	}
}

func TestGuzzlePath(t *testing.T) {
	for in, want := range map[string]string{
		"/apps/1/events":          "/apps/1/events",
		"/apps/1/channels/a%20b":  "/apps/1/channels/a%20b",
		"/apps/1/channels/a b":    "/apps/1/channels/a%20b",
		"/apps/1/channels/100%":   "/apps/1/channels/100%25",
		"/apps/1/channels/{x}\"é": "/apps/1/channels/%7Bx%7D%22%C3%A9",
		"/a:b@c!$&'()*+,;=~._-":   "/a:b@c!$&'()*+,;=~._-",
	} {
		if got := GuzzlePath(in); got != want {
			t.Errorf("GuzzlePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// dump renders Params like PHP's json_encode of the parse_str result with
// keys as strings, for comparison.
func dump(p *Params) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range p.Keys {
		if i > 0 {
			b.WriteByte(',')
		}
		if k.IsInt {
			fmt.Fprintf(&b, "%d:", k.I)
		} else {
			fmt.Fprintf(&b, "%q:", k.S)
		}
		if v := p.Values[i]; v.Array != nil {
			b.WriteString(dump(v.Array))
		} else {
			fmt.Fprintf(&b, "%q", v.S)
		}
	}
	b.WriteByte('}')
	return b.String()
}

func TestParseStr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a=1&b=2", `{"a":"1","b":"2"}`},
		{"a=1&a=2", `{"a":"2"}`},
		{"a.b=1&c d=2&e+f=3", `{"a_b":"1","c_d":"2","e_f":"3"}`},
		{"x[]=a&x[]=b", `{"x":{0:"a",1:"b"}}`},
		{"x[k]=a&x[1]=b&x[]=c", `{"x":{"k":"a",1:"b",2:"c"}}`},
		{"x[a][b]=1", `{"x":{"a":{"b":"1"}}}`},
		{"x[a=1", `{"x_a":"1"}`},
		{"x[a.b=1", `{"x_a_b":"1"}`},
		{"x[a][b=1", `{"x":{"a":"1"}}`},
		{"x]=1", `{"x]":"1"}`},
		{"x[a]b=1", `{"x":{"a":"1"}}`},
		{"a.b[c.d]=1", `{"a_b":{"c.d":"1"}}`},
		{"0=a&1=b&-1=c&01=d", `{0:"a",1:"b",-1:"c","01":"d"}`},
		{"=x&[]=y&&a", `{"a":""}`},
		{"  a=1", `{"a":"1"}`},
		{"a%00b=1&c=%00", `{"a":"1","c":"\x00"}`},
		{"a=%zz%4&b=%41+", `{"a":"%zz%4","b":"A "}`},
		{"x=1&x[]=2", `{"x":{0:"2"}}`},
		{"x[]=1&x=2", `{"x":"2"}`},
	}
	for _, tt := range tests {
		if got := dump(ParseStr(tt.in)); got != tt.want {
			t.Errorf("ParseStr(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	deep := "a" + strings.Repeat("[x]", 65) + "=1&b=2"
	if got := dump(ParseStr("a=0&" + deep)); got != `{"b":"2"}` {
		t.Errorf("nesting over 64 levels: %s", got)
	}
	many := strings.Repeat("a=1&", 1000) + "b=2"
	if p := ParseStr(many); !p.Truncated {
		t.Error("max_input_vars not applied")
	} else if _, ok := p.Get("b"); ok {
		t.Error("variable past max_input_vars kept")
	}
}

// phpSigner prints Reverb's string to sign (or ERROR) for each JSON-encoded
// [method, path, query, body] line, with Reverb's own PHP code path.
const phpSigner = `
set_error_handler(function ($no, $str) { throw new ErrorException($str, 0, $no); });
while (($line = fgets(STDIN)) !== false) {
    [$method, $path, $query, $body] = json_decode($line, true);
    try {
        parse_str($query, $q);
        foreach (['auth_signature', 'body_md5', 'appId', 'appKey', 'channelName'] as $k) unset($q[$k]);
        if ($body !== '') $q['body_md5'] = md5($body);
        ksort($q);
        $parts = [];
        foreach ($q as $k => $v) { if (is_array($v)) $v = implode(',', $v); $parts[] = "{$k}={$v}"; }
        echo json_encode(implode("\n", [$method, $path, implode('&', $parts)])), "\n";
    } catch (Throwable $e) { echo json_encode("ERROR"), "\n"; }
}`

// TestStringToSignAgainstPHP compares StringToSign with PHP over a corpus
// of tricky queries (skipped when php is not installed).
func TestStringToSignAgainstPHP(t *testing.T) {
	php := phptest.Binary(t, "cannot compare with PHP's parse_str/ksort")
	corpus := []string{
		"auth_key=k&auth_timestamp=1&auth_version=1.0&info=user_count%2Csubscription_count",
		"b=1&a=2&B=3&_=4&a_b=5&a.c=6&a%20d=7",
		"10=a&9=b&1e1=c&010=d&x=e&-5=f&%201=g&1.5=h&9a=i&abc=j",
		"info[]=a&info[]=b&z[x]=1&z[y]=2",
		"n[a][b]=1",
		"auth_signature[x]=1&appId=3&appKey=4&channelName=5&body_md5=6",
		"a=%zz&b=%2&c=%41%42+&d=%e2%82%ac",
		"x[a=1&y[b][c=2&q[]=1&q[]=2&q[5]=3&q[]=4",
		"99999999999999999999=a&99999999999999999998=b&-99999999999999999999=c&1e400=d&-1e400=e",
		" 1=a&1 =b&.5=c&5.=d&+5=e",
		strings.Repeat("v=1&", 1001) + "w=2",
		"a" + strings.Repeat("[x]", 65) + "=1&b=2",
	}
	rng := rand.New(rand.NewSource(1))
	alphabet := []string{"a", "b", "1", "0", "-", ".", " ", "+", "[", "]", "=", "&", "%20", "%5B", "%00", "e", "9", "_"}
	for i := 0; i < 300; i++ {
		var b strings.Builder
		for n := rng.Intn(20); n > 0; n-- {
			b.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		corpus = append(corpus, b.String())
	}
	names := []string{"1", "9", "10", "1e1", "010", " 1", "1.0", ".5", "5.", "9a", "a", "B", "_", "-1", "1e400", "99999999999999999999", "x y", "a.b", "1 "}
	for i := 0; i < 200; i++ {
		var b strings.Builder
		for n := rng.Intn(40); n > 0; n-- {
			b.WriteString(names[rng.Intn(len(names))])
			fmt.Fprintf(&b, "%d=%d&", rng.Intn(3), n)
		}
		corpus = append(corpus, b.String())
	}
	var in strings.Builder
	for i, q := range corpus {
		body := ""
		if i%2 == 1 {
			body = "{}"
		}
		line, _ := json.Marshal([]string{"POST", "/apps/1/events", q, body})
		in.Write(line)
		in.WriteByte('\n')
	}
	lines := phptest.Lines(t, php, in.String(), "-d", "error_reporting=E_ALL", "-d", "display_errors=stderr", "-r", phpSigner)
	for i, q := range corpus {
		if i >= len(lines) {
			t.Fatalf("php output ended at %d", i)
		}
		var want string
		json.Unmarshal([]byte(lines[i]), &want)
		var body []byte
		if i%2 == 1 {
			body = []byte("{}")
		}
		p := ParseStr(q)
		got, err := StringToSign("POST", "/apps/1/events", p, body)
		if err != nil || p.Truncated {
			got = "ERROR"
		}
		if got != want {
			t.Errorf("query %q:\n go  %q\n php %q", q, got, want)
		}
	}
}

func FuzzParseStr(f *testing.F) {
	for _, s := range []string{"a=1&b[]=2&b[]=3", "x[a][b=1", "a.b c=%41+", "0=1&-0=2", "x[][][]=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		p := ParseStr(q)
		if p.Len() > maxInputVars {
			t.Fatalf("%d variables", p.Len())
		}
		for i, k := range p.Keys {
			if !k.IsInt && k.S == "" {
				t.Fatalf("empty top-level name from %q", q)
			}
			if j := p.index[k]; j != i {
				t.Fatalf("index out of sync")
			}
		}
		StringToSign("GET", "/", p, nil)
	})
}

func FuzzVerify(f *testing.F) {
	f.Add("POST", "/apps/1/events", "auth_key=k&auth_timestamp=1&auth_version=1.0", []byte(`{"a":1}`), "/ws")
	f.Add("GET", "/ws/apps/1/channels", "info=a%2Cb&filter_by_prefix=x", []byte(nil), "ws")
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte, prefix string) {
		if strings.Contains(query, "auth_signature") {
			return
		}
		p := ParseStr(query)
		toSign, err := StringToSign(method, GuzzlePath(path), p, body)
		if err != nil || p.Truncated {
			return
		}
		signed := query + "&auth_signature=" + sign("s", toSign)
		if !VerifyAPI("s", method, path, signed, body, prefix) {
			t.Fatalf("own signature rejected: %q %q %q", method, path, signed)
		}
		if VerifyAPI("t", method, path, signed, body, prefix) {
			t.Fatal("wrong secret accepted")
		}
	})
}

func TestUserAuthAgainstPHP(t *testing.T) {
	php := phptest.Binary(t, "cannot compare with PHP's hash_hmac")
	const secret, socket = "reverb-secret", "1234.5678"
	datas := []string{`{"id":"7"}`, `{"id":"7","user_info":{"name":"Ann é"},"watchlist":["1","2"]}`, `{"id":12}`, ``, `not json`}
	var in strings.Builder
	for _, d := range datas {
		line, _ := json.Marshal([]string{secret, socket, d})
		in.Write(line)
		in.WriteByte('\n')
	}
	// What PusherBroadcaster::resolveAuthenticatedUser and
	// Pusher::authenticateUser compute.
	code := `while (($l = fgets(STDIN)) !== false) { [$secret, $socket, $data] = json_decode($l, true); echo hash_hmac('sha256', "$socket::user::$data", $secret), "\n"; }`
	lines := phptest.Lines(t, php, in.String(), "-r", code)
	for i, d := range datas {
		if i >= len(lines) || lines[i] != UserSignature(secret, socket, d) {
			t.Fatalf("%q: Go %s, PHP %v", d, UserSignature(secret, socket, d), lines)
		}
		for _, c := range []struct {
			auth string
			want bool
		}{
			{"reverb-key:" + lines[i], true},
			{lines[i], true},
			{"reverb-key:" + strings.ToUpper(lines[i]), false},
			{"reverb-key:" + UserSignature(secret, "1234.5679", d), false},
			{"", false},
		} {
			if got := ValidUserAuth(secret, socket, d, c.auth); got != c.want {
				t.Errorf("%q with auth %q: %v, want %v", d, c.auth, got, c.want)
			}
		}
	}
}
