package cachestore

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/elliotchance/phpserialize"
)

var (
	plainInt      = regexp.MustCompile(`^-?[0-9]+$`)
	serializedInt = regexp.MustCompile(`^i:-?[0-9]+;$`)
	serializedStr = regexp.MustCompile(`^(?s)s:[0-9]+:".*";$`)
	fileExpiry    = regexp.MustCompile(`^[0-9]{10}`)
)

// Describe decodes stored flag bytes for logs: the int a restart wrote
// (with its UTC time), whatever the store's framing (file expiry prefix,
// PHP serialize(), raw Redis digits, memcached flags). Anything else is
// shown quoted and shortened. It never fails.
func Describe(raw []byte) string {
	if i := bytes.Index(raw, []byte(flagsMarker)); i >= 0 {
		return describeValue(raw[:i]) + " (memcached flags " + string(raw[i+len(flagsMarker):]) + ")"
	}
	if !plainInt.Match(raw) && fileExpiry.Match(raw) && len(raw) > 10 {
		exp := string(raw[:10])
		when := "never"
		if exp != foreverExpiry {
			n, _ := strconv.ParseInt(exp, 10, 64)
			when = time.Unix(n, 0).UTC().Format(time.RFC3339)
		}
		return describeValue(raw[10:]) + " (file, expires " + when + ")"
	}
	return describeValue(raw)
}

func describeValue(raw []byte) string {
	switch {
	case plainInt.Match(raw):
		if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			return describeInt(n)
		}
	case serializedInt.Match(raw):
		if n, err := phpserialize.UnmarshalInt(raw); err == nil {
			return describeInt(n)
		}
	case serializedStr.Match(raw) && serializedStrLenOK(raw):
		if s, err := phpserialize.UnmarshalString(raw); err == nil {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return describeInt(n) + " (as a string)"
			}
			return "string " + quoteShort([]byte(s))
		}
	case string(raw) == "N;":
		return "null"
	case string(raw) == "b:1;":
		return "true"
	case string(raw) == "b:0;":
		return "false"
	}
	return "unrecognised value " + quoteShort(raw)
}

func describeInt(n int64) string {
	return fmt.Sprintf("%d (%s)", n, time.Unix(n, 0).UTC().Format(time.RFC3339))
}

func quoteShort(b []byte) string {
	const max = 64
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + fmt.Sprintf("… (%d bytes)", len(b))
	}
	return strconv.Quote(string(b))
}

// serializedStrLenOK checks that s:N:"...";'s declared length N is the real
// one before phpserialize sees it (it slices by N without a bounds check).
func serializedStrLenOK(raw []byte) bool {
	colon := bytes.IndexByte(raw[2:], ':') + 2
	n, err := strconv.Atoi(string(raw[2:colon]))
	return err == nil && n == len(raw)-colon-4
}
