package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/pusherauth"
)

// Options configure the HTTP API handler.
type Options struct {
	// Path is the server path prefix, normalised ("" or "/ws"); every route
	// lives under it.
	Path string
	// ConfigPath is reverb.servers.reverb.path from config. Signatures are
	// accepted over the request path as sent and with Path or ConfigPath
	// cut off (compatibility decision: Reverb accepts only one form).
	ConfigPath string
	// MaxRequestSize bounds the whole request (request line, headers and
	// body), as Reverb counts it; 0 means 10 000 (Reverb's default).
	MaxRequestSize int
	// SignatureMaxAge, when > 0, rejects requests whose auth_timestamp is
	// further than this from now (opt-in; Reverb never checks it).
	SignatureMaxAge time.Duration
	// Timeout bounds each Backend call; 0 means 30 s.
	Timeout time.Duration
	// ErrorLog, when set, receives the cause of every 500 answer.
	ErrorLog func(msg string)
}

// handler is the http.Handler of NewHandler. It is immutable after
// NewHandler, so concurrent requests share it without locking; all state
// lives behind Backend.
type handler struct {
	b    Backend
	opts Options
}

// NewHandler serves the HTTP API routes of Reverb under opts.Path:
// /apps/{id}/events, batch_events, connections, channels, channels/{c},
// channels/{c}/users, users/{u}/terminate_connections and /up, with
// Symfony's route matching (404 "Not found.", 405 with Allow). Requests for
// the WebSocket route that are not upgrades answer 500 as in Reverb.
func NewHandler(b Backend, opts Options) http.Handler {
	if opts.MaxRequestSize <= 0 {
		opts.MaxRequestSize = 10000
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	return &handler{b: b, opts: opts}
}

// route names, as in Reverb's RouteCollection.
type route int

const (
	routeSockets route = iota
	routeEvents
	routeBatch
	routeConnections
	routeChannels
	routeChannel
	routeChannelUsers
	routeTerminate
	routeUp
)

// routeDef is one route: its path segments after the prefix ("" marks a
// variable) and its method.
type routeDef struct {
	r        route
	segments []string
	method   string
}

// routes in Reverb's registration order; Symfony tries them in this order.
var routes = []routeDef{
	{routeSockets, []string{"app", ""}, "GET"},
	{routeEvents, []string{"apps", "", "events"}, "POST"},
	{routeBatch, []string{"apps", "", "batch_events"}, "POST"},
	{routeConnections, []string{"apps", "", "connections"}, "GET"},
	{routeChannels, []string{"apps", "", "channels"}, "GET"},
	{routeChannel, []string{"apps", "", "channels", ""}, "GET"},
	{routeChannelUsers, []string{"apps", "", "channels", "", "users"}, "GET"},
	{routeTerminate, []string{"apps", "", "users", "", "terminate_connections"}, "POST"},
	{routeUp, []string{"up"}, "GET"},
}

// match is Symfony's UrlMatcher over the decoded path: variables are one or
// more bytes other than '/', a trailing slash never matches, HEAD counts as
// GET. It returns the route and its variables, or the allowed methods when
// only the method differs (405), or ok=false (404).
func (h *handler) match(method, path string) (r route, vars []string, allow []string, ok bool) {
	rest, found := strings.CutPrefix(path, h.opts.Path)
	if !found || !strings.HasPrefix(rest, "/") {
		return 0, nil, nil, false
	}
	segs := strings.Split(rest[1:], "/")
	if method == "HEAD" {
		method = "GET"
	}
	for _, def := range routes {
		if len(def.segments) != len(segs) {
			continue
		}
		var vs []string
		matched := true
		for i, s := range def.segments {
			if s == "" {
				if segs[i] == "" {
					matched = false
					break
				}
				vs = append(vs, segs[i])
			} else if segs[i] != s {
				matched = false
				break
			}
		}
		if !matched {
			continue
		}
		if def.method != method {
			allow = appendUnique(allow, def.method)
			continue
		}
		return def.r, vs, nil, true
	}
	return 0, nil, allow, false
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// request is what every /apps route works from, once checked.
type request struct {
	r      *http.Request
	app    *laravelcfg.App
	params *pusherauth.Params
	body   []byte
	vars   []string // route variables after appId
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Reverb buffers the whole request before routing, so an oversized
	// request is 413 whatever its path.
	body, tooBig, err := h.readBody(r)
	if tooBig {
		textError(w, http.StatusRequestEntityTooLarge, "Payload too large.")
		return
	}
	if err != nil {
		textError(w, http.StatusBadRequest, "Bad request.")
		return
	}
	rt, vars, allow, ok := h.match(strings.ToUpper(r.Method), r.URL.Path)
	if !ok {
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			textError(w, http.StatusMethodNotAllowed, "Method not allowed.")
			return
		}
		textError(w, http.StatusNotFound, "Not found.")
		return
	}
	switch rt {
	case routeUp:
		writeJSON(w, http.StatusOK, []byte(`{"health":"OK"}`))
		return
	case routeSockets:
		// Reverb calls the WebSocket controller with the HTTP connection,
		// which fails with a TypeError.
		textError(w, http.StatusInternalServerError, "Internal server error.")
		return
	}
	req, status, msg := h.prepare(r, vars, body)
	if status != 0 {
		if status == http.StatusInternalServerError {
			h.logError(r, msg)
			msg = "Internal server error."
		}
		textError(w, status, msg)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	status = http.StatusOK
	switch rt {
	case routeEvents:
		status, body, err = h.events(ctx, req)
	case routeBatch:
		status, body, err = h.batch(ctx, req)
	case routeConnections:
		body, err = h.connections(ctx, req)
	case routeChannels:
		body, err = h.channels(ctx, req)
	case routeChannel:
		body, err = h.channel(ctx, req)
	case routeChannelUsers:
		status, body, err = h.users(ctx, req)
	case routeTerminate:
		body, err = h.terminate(ctx, req)
	}
	var limit *limitError
	if errors.As(err, &limit) {
		textError(w, limit.status, limit.msg)
		return
	}
	if err != nil {
		h.logError(r, err.Error())
		textError(w, http.StatusInternalServerError, "Internal server error.")
		return
	}
	writeJSON(w, status, body)
}

func (h *handler) logError(r *http.Request, msg string) {
	if h.opts.ErrorLog != nil {
		h.opts.ErrorLog("api: " + r.Method + " " + r.URL.Path + ": " + msg)
	}
}

// prepare runs Reverb's Controller::verify: parse the query, find the
// app, check the signature. A non-zero status is the error answer with its
// message.
func (h *handler) prepare(r *http.Request, vars []string, body []byte) (*request, int, string) {
	appID := vars[0]
	params := pusherauth.ParseStr(r.URL.RawQuery)
	if params.Truncated {
		return nil, http.StatusInternalServerError, "more than max_input_vars query parameters"
	}
	if appID == "0" {
		// PHP: if (! $appId) — "0" is falsy.
		return nil, http.StatusBadRequest, "Application ID not provided."
	}
	app, ok := h.b.AppByID(appID)
	if !ok || app == nil {
		return nil, http.StatusNotFound, "No matching application for ID [" + appID + "]."
	}
	opts := pusherauth.APIOptions{MaxAge: h.opts.SignatureMaxAge}
	// Guzzle upper-cases the method Reverb signs over, as the router does.
	switch err := pusherauth.VerifyParams(opts, app.Secret, strings.ToUpper(r.Method), rawPath(r), params, body, h.opts.Path, h.opts.ConfigPath); {
	case errors.Is(err, pusherauth.ErrArrayToString):
		return nil, http.StatusInternalServerError, err.Error()
	case err != nil:
		return nil, http.StatusUnauthorized, "Authentication signature invalid."
	}
	return &request{r: r, app: app, params: params, body: body, vars: vars[1:]}, 0, ""
}

// rawPath is the request path as the client sent it (still
// percent-encoded), which is what API clients sign.
func rawPath(r *http.Request) string {
	uri := r.RequestURI
	if strings.HasPrefix(uri, "/") {
		if i := strings.IndexByte(uri, '?'); i >= 0 {
			uri = uri[:i]
		}
		return uri
	}
	return r.URL.EscapedPath()
}

// requestHeadSize estimates the bytes of the request line and headers as
// Reverb's buffer counts them.
func requestHeadSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}

// readBody reads the whole body unless the request as a whole exceeds
// max_request_size (then tooBig, with at most the limit read).
func (h *handler) readBody(r *http.Request) (body []byte, tooBig bool, err error) {
	room := h.opts.MaxRequestSize - requestHeadSize(r)
	if room < 0 || r.ContentLength > int64(room) {
		return nil, true, nil
	}
	if r.Body == nil {
		return nil, false, nil
	}
	capHint := 512
	if r.ContentLength > 0 {
		capHint = int(r.ContentLength)
	}
	buf := make([]byte, 0, min(capHint, room+1))
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > room {
			return nil, true, nil
		}
		if err == io.EOF {
			return buf, false, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
}

// textError writes one of Reverb's plain-text error answers.
func textError(w http.ResponseWriter, status int, msg string) {
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

// writeJSON writes a Symfony JsonResponse body.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-cache, private")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
