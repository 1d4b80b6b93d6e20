package redisconn

import (
	"strconv"
	"strings"
)

// Where names the deployment for log lines, without credentials:
// "redis://10.0.0.5:6379/2", "rediss://cache:6380", "unix:/run/redis.sock",
// "sentinel mymaster via 10.0.0.1:26379,10.0.0.2:26379",
// "cluster 10.0.0.1:7000,10.0.0.2:7000 (tls)".
func (d *Deployment) Where() string {
	var b strings.Builder
	switch d.Mode {
	case Sentinel:
		b.WriteString("sentinel " + d.Service + " via " + strings.Join(d.Addrs, ","))
	case Cluster:
		b.WriteString("cluster " + strings.Join(d.Addrs, ","))
	default:
		switch {
		case d.Network == "unix":
			b.WriteString("unix:" + first(d.Addrs))
		case d.TLS != nil:
			b.WriteString("rediss://" + first(d.Addrs))
		default:
			b.WriteString("redis://" + first(d.Addrs))
		}
		if d.DB != 0 {
			b.WriteString("/" + strconv.Itoa(d.DB))
		}
		return b.String()
	}
	if d.DB != 0 {
		b.WriteString(" db " + strconv.Itoa(d.DB))
	}
	if d.TLS != nil {
		b.WriteString(" (tls)")
	}
	return b.String()
}

// Describe is the whole resolved deployment in one line for `reverb config`
// and `reverb doctor`: where, TLS, credentials (masked unless showSecrets),
// the key prefix and the config it came from.
func (d *Deployment) Describe(showSecrets bool) string {
	parts := []string{d.Where()}
	if t := d.TLS; t != nil {
		var tp []string
		switch {
		case t.CAFile != "":
			tp = append(tp, "ca "+t.CAFile)
		case t.CAPath != "":
			tp = append(tp, "ca path "+t.CAPath)
		default:
			tp = append(tp, "system CAs")
		}
		if t.CertFile != "" {
			tp = append(tp, "client cert "+t.CertFile)
		}
		switch {
		case !t.VerifyPeer:
			tp = append(tp, "NO verification (verify_peer false)")
		case !t.VerifyPeerName:
			tp = append(tp, "name not verified (verify_peer_name false)")
		}
		if t.AllowSelfSigned && t.VerifyPeer {
			tp = append(tp, "self-signed allowed")
		}
		if t.Config != nil && t.Config.ServerName != "" {
			tp = append(tp, "peer name "+t.Config.ServerName)
		}
		parts = append(parts, "tls: "+strings.Join(tp, ", "))
	}
	if d.Password != "" {
		auth := "password " + mask(d.Password, showSecrets)
		if d.Username != "" {
			auth = "user " + d.Username + " " + auth
		}
		parts = append(parts, auth)
	}
	if d.SentinelPassword != "" {
		auth := "sentinel password " + mask(d.SentinelPassword, showSecrets)
		if d.SentinelUsername != "" {
			auth = "sentinel user " + d.SentinelUsername + " " + strings.TrimPrefix(auth, "sentinel ")
		}
		parts = append(parts, auth)
	}
	if d.Prefix != "" {
		parts = append(parts, "key prefix "+strconv.Quote(d.Prefix))
	}
	from := d.Source
	if d.Client != "" {
		from = d.Client + " connection [" + d.Name + "] (" + d.Source + ")"
	}
	return strings.Join(parts, ", ") + " — " + from
}

// mask hides all but the ends of a secret, as `reverb config` does.
func mask(s string, show bool) string {
	if show || s == "" {
		return s
	}
	if len(s) <= 6 {
		return strings.Repeat("*", len(s))
	}
	return s[:2] + strings.Repeat("*", len(s)-4) + s[len(s)-2:]
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
