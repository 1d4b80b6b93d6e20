package redisconn

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/internal/cfgtree"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/phpeval"
)

var predisDBPath = regexp.MustCompile(`^/(\d+)(/.*)?`)

// parsePredisURI is Predis\Connection\Parameters::parse for a server given
// as a string ('tcp://10.0.0.1:26379?timeout=0.1', 'redis://:pw@h/2'):
// parse_url's parts, the query's parameters over them, and for redis[s]://
// the user, password and /N database.
func parsePredisURI(path, uri string) (cfgtree.Node, error) {
	if strings.HasPrefix(strings.ToLower(uri), "unix://") {
		uri = "unix:" + uri[len("unix://"):]
	}
	parts, ok := phpeval.ParseURL(uri)
	if !ok || parts.Len() == 0 {
		return cfgtree.Node{}, errf(path, "invalid predis parameters URI %q", uri)
	}
	out := php.NewArray()
	for i, k := range parts.Keys {
		out.Set(k, parts.Values[i])
	}
	if h, ok := out.GetString("host"); ok {
		if s := h.ToString(); strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			out.Set(php.StringKey("host"), php.StringValue(s[1:len(s)-1]))
		}
	}
	if q, ok := out.GetString("query"); ok {
		out.Delete(php.StringKey("query"))
		vals, err := url.ParseQuery(q.ToString())
		if err != nil {
			return cfgtree.Node{}, errf(path, "bad query in %q: %v", uri, err)
		}
		for k, vs := range vals {
			out.Set(php.StringKey(k), php.StringValue(vs[len(vs)-1]))
		}
	}
	if strings.HasPrefix(strings.ToLower(uri), "redis") {
		if u, ok := out.GetString("user"); ok {
			if u.ToString() != "" {
				out.Set(php.StringKey("username"), u)
			}
			out.Delete(php.StringKey("user"))
		}
		if p, ok := out.GetString("pass"); ok {
			if p.ToString() != "" {
				out.Set(php.StringKey("password"), p)
			}
			out.Delete(php.StringKey("pass"))
		}
		if p, ok := out.GetString("path"); ok {
			if m := predisDBPath.FindStringSubmatch(p.ToString()); m != nil {
				out.Set(php.StringKey("database"), php.StringValue(m[1]))
				if m[2] != "" {
					out.Set(php.StringKey("path"), php.StringValue(m[2]))
				} else {
					out.Delete(php.StringKey("path"))
				}
			}
		}
	}
	if strings.HasPrefix(strings.ToLower(uri), "unix") {
		// unix:/path/to/sock: the path is the socket.
		out.Set(php.StringKey("scheme"), php.StringValue("unix"))
	}
	return cfgtree.Node{Path: path, Arr: out}, nil
}
