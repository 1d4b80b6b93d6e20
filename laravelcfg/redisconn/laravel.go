package redisconn

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/reverb-go/reverb/laravelcfg/internal/cfgtree"
	"github.com/reverb-go/reverb/laravelcfg/php"
)

// resolver is one RedisManager::resolve call on config('database.redis').
type resolver struct {
	rc     cfgtree.Node // database.redis
	client string       // phpredis or predis
	name   string
}

func resolve(rc cfgtree.Node, name string) (*Deployment, error) {
	// RedisServiceProvider pulls 'client' out of the config (default
	// phpredis); RedisManager::resolve uses $name ?: 'default'.
	client, err := rc.StrOr("client", "phpredis")
	if err != nil {
		return nil, err
	}
	if client != "phpredis" && client != "predis" {
		return nil, fmt.Errorf("config %s: Redis client [%s]: %w: only Laravel's phpredis and predis connectors are read (a driver registered with Redis::extend is not)", rc.KeyPath("client"), client, ErrUnsupported)
	}
	if name == "" || name == "0" {
		name = "default"
	}
	r := &resolver{rc: rc, client: client, name: name}
	options, err := rc.Sub("options")
	if err != nil {
		return nil, err
	}
	if v, ok := rc.Get(name); ok && !v.IsNull() && name != "client" {
		conn, err := parseConnection(rc.KeyPath(name), v)
		if err != nil {
			return nil, err
		}
		opts, err := managerOptions(options, name)
		if err != nil {
			return nil, err
		}
		if isServerList(conn) {
			if client != "predis" {
				return nil, errf(conn.Path, "lists several servers, which Laravel's phpredis connector cannot use: a Redis Cluster belongs in database.redis.clusters; Sentinel needs REDIS_CLIENT=predis")
			}
			return r.predisList(conn, opts)
		}
		if client == "predis" {
			return r.predisStandalone(conn, opts)
		}
		return r.phpredisStandalone(conn, opts)
	}
	clusters, err := rc.Sub("clusters")
	if err != nil {
		return nil, err
	}
	if v, ok := clusters.Get(name); ok && !v.IsNull() && name != "options" {
		return r.cluster(clusters, name)
	}
	return nil, fmt.Errorf("config %s is missing: Redis connection [%s] not configured", rc.KeyPath(name), name)
}

// parseConnection is RedisManager::parseConnectionConfiguration: a string
// is a URL; ConfigurationUrlParser merges a `url`; a driver tcp/tls (from
// redis:// or rediss://) becomes the scheme; 'driver' is dropped.
func parseConnection(path string, v php.Value) (cfgtree.Node, error) {
	if v.IsUnknown() {
		return cfgtree.Node{}, cfgtree.UnknownErr(path, v)
	}
	var n cfgtree.Node
	switch v.Kind() {
	case php.String:
		a := php.NewArray()
		a.Set(php.StringKey("url"), v)
		n = cfgtree.Node{Path: path, Arr: a}
	case php.Array:
		n = cfgtree.Node{Path: path, Arr: v.ArrayVal()}
	default:
		return cfgtree.Node{}, errf(path, "expected a connection array, got %s", v.TypeName())
	}
	n, err := cfgtree.ApplyURL(n)
	if err != nil {
		return cfgtree.Node{}, err
	}
	out := php.NewArray()
	for i, k := range n.Arr.Keys {
		if !k.IsInt && k.S == "driver" {
			continue
		}
		out.Set(k, n.Arr.Values[i])
	}
	if d, ok := n.Get("driver"); ok {
		if s, _ := cfgtree.String(d, ""); strings.EqualFold(s, "tcp") || strings.EqualFold(s, "tls") {
			out.Set(php.StringKey("scheme"), php.StringValue(strings.ToLower(s)))
		}
	}
	return cfgtree.Node{Path: n.Path, Arr: out}, nil
}

// managerOptions is what RedisManager::resolve passes to connect():
// redis.options without 'parameters', plus 'parameters' =
// Arr::get($options, 'parameters.'.$name, $options['parameters'] ?? []).
func managerOptions(options cfgtree.Node, name string) (cfgtree.Node, error) {
	out := php.NewArray()
	var params php.Value
	if options.Arr != nil {
		for i, k := range options.Arr.Keys {
			if !k.IsInt && k.S == "parameters" {
				params = options.Arr.Values[i]
				continue
			}
			out.Set(k, options.Arr.Values[i])
		}
	}
	if p, ok := arrGet(options, "parameters."+name); ok {
		params = p
	}
	if params.Kind() == php.Null {
		params = php.ArrayValue(php.NewArray())
	}
	out.Set(php.StringKey("parameters"), params)
	return cfgtree.Node{Path: options.Path, Arr: out}, nil
}

// arrGet is Laravel's Arr::get for a dotted key: the whole key first, then
// segment by segment.
func arrGet(n cfgtree.Node, key string) (php.Value, bool) {
	if v, ok := n.Get(key); ok {
		return v, true
	}
	cur := php.ArrayValue(n.Arr)
	if n.Arr == nil {
		return php.Value{}, false
	}
	for _, seg := range strings.Split(key, ".") {
		if cur.Kind() != php.Array {
			return php.Value{}, false
		}
		v, ok := cur.ArrayVal().GetString(seg)
		if !ok {
			return php.Value{}, false
		}
		cur = v
	}
	return cur, true
}

// isServerList reports whether a connection lists servers (predis'
// aggregate shape: [ [host...], 'tcp://...', 'options' => [...] ]).
func isServerList(n cfgtree.Node) bool {
	if n.Arr == nil {
		return false
	}
	_, ok := n.Arr.Get(php.IntKey(0))
	return ok
}

// without returns n's array without the given string keys.
func without(n cfgtree.Node, keys ...string) cfgtree.Node {
	out := php.NewArray()
	if n.Arr != nil {
	next:
		for i, k := range n.Arr.Keys {
			for _, x := range keys {
				if !k.IsInt && k.S == x {
					continue next
				}
			}
			out.Set(k, n.Arr.Values[i])
		}
	}
	return cfgtree.Node{Path: n.Path, Arr: out}
}

// merge is array_merge of string-keyed arrays (later wins); the path is the
// first node's.
func merge(path string, ns ...cfgtree.Node) cfgtree.Node {
	out := php.NewArray()
	for _, n := range ns {
		if n.Arr == nil {
			continue
		}
		for i, k := range n.Arr.Keys {
			out.Set(k, n.Arr.Values[i])
		}
	}
	return cfgtree.Node{Path: path, Arr: out}
}

// ---- phpredis ----

// phpredisStandalone is PhpRedisConnector::connect: createClient(
// array_merge($config, $options, $config['options'] + prefix)).
func (r *resolver) phpredisStandalone(conn, opts cfgtree.Node) (*Deployment, error) {
	connOpts, err := conn.Sub("options")
	if err != nil {
		return nil, err
	}
	formatted := connOpts
	if p, ok := conn.Get("prefix"); ok && !p.IsNull() {
		formatted = merge(connOpts.Path, connOpts, single("prefix", p))
	}
	m := merge(conn.Path, without(conn, "options"), opts, formatted)
	d := r.deployment(conn.Path, Standalone, m)

	host, err := m.StrOr("host", "127.0.0.1")
	if err != nil {
		return nil, err
	}
	scheme, err := m.StrOr("scheme", "")
	if err != nil {
		return nil, err
	}
	if err := d.setServer(m, host, scheme, "6379"); err != nil {
		return nil, err
	}
	if err := phpredisAuth(d, m); err != nil {
		return nil, err
	}
	if v, ok := m.Get("database"); ok && !v.IsNull() {
		if d.DB, err = dbNumber(v, m.KeyPath("database")); err != nil {
			return nil, err
		}
	}
	if d.Prefix, err = phpredisPrefix(m); err != nil {
		return nil, err
	}
	if d.ConnectTimeout, err = seconds(m, "timeout"); err != nil {
		return nil, err
	}
	if d.ReadTimeout, err = seconds(m, "read_timeout"); err != nil {
		return nil, err
	}
	if d.TLS != nil {
		ctx, err := phpredisContext(m)
		if err != nil {
			return nil, err
		}
		if d.TLS, err = buildTLS(ctx, d.TLS.PeerName); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// phpredisAuth: AUTH only with a non-empty password; the ACL form when the
// username is a non-empty string and the password a string.
func phpredisAuth(d *Deployment, m cfgtree.Node) error {
	pw, ok := m.Get("password")
	if !ok || cfgtree.Empty(pw) {
		return nil
	}
	var err error
	if d.Password, err = cfgtree.String(pw, m.KeyPath("password")); err != nil {
		return err
	}
	if pw.Kind() == php.String {
		if d.Username, err = m.StrOr("username", ""); err != nil {
			return err
		}
	}
	return nil
}

// phpredisPrefix: OPT_PREFIX only when ! empty($config['prefix']) ("0" is
// no prefix).
func phpredisPrefix(m cfgtree.Node) (string, error) {
	v, ok := m.Get("prefix")
	if !ok || cfgtree.Empty(v) {
		return "", nil
	}
	return cfgtree.String(v, m.KeyPath("prefix"))
}

// phpredisContext finds the SSL context options: 'context' => ['stream' =>
// [...]], 'context' => ['ssl' => [...]] or a flat 'context' (normalized
// the same way by Laravel 12+).
func phpredisContext(m cfgtree.Node) (cfgtree.Node, error) {
	ctx, err := m.Sub("context")
	if err != nil || ctx.Arr == nil {
		return ctx, err
	}
	for _, k := range []string{"stream", "ssl"} {
		if v, ok := ctx.Get(k); ok && !v.IsNull() {
			return ctx.Sub(k)
		}
	}
	return ctx, nil
}

// ---- predis ----

// predisOptions is PredisConnector::connect's client options:
// array_merge(['timeout' => 10.0], $options, $config['options']) with the
// connection's prefix.
func predisOptions(conn, opts cfgtree.Node) (cfgtree.Node, error) {
	connOpts, err := conn.Sub("options")
	if err != nil {
		return cfgtree.Node{}, err
	}
	o := merge(connOpts.Path, opts, connOpts)
	if p, ok := conn.Get("prefix"); ok && !p.IsNull() {
		o = merge(o.Path, o, single("prefix", p))
	}
	return o, nil
}

// predisDefaults fills the keys a parameter set lacks from the client's
// 'parameters' option (predis' connection factory: $parameters += $defaults).
func predisDefaults(params, copts cfgtree.Node) (cfgtree.Node, error) {
	defs, err := copts.Sub("parameters")
	if err != nil {
		return cfgtree.Node{}, err
	}
	out := merge(params.Path, params)
	if defs.Arr != nil {
		for i, k := range defs.Arr.Keys {
			if _, ok := out.Arr.Get(k); !ok {
				out.Arr.Set(k, defs.Arr.Values[i])
			}
		}
	}
	return out, nil
}

func (r *resolver) predisStandalone(conn, opts cfgtree.Node) (*Deployment, error) {
	copts, err := predisOptions(conn, opts)
	if err != nil {
		return nil, err
	}
	params, err := predisDefaults(without(conn, "options", "prefix"), copts)
	if err != nil {
		return nil, err
	}
	d := r.deployment(conn.Path, Standalone, merge(conn.Path, params, copts))
	if err := d.predisNode(params); err != nil {
		return nil, err
	}
	if d.Prefix, err = predisPrefix(copts); err != nil {
		return nil, err
	}
	return d, nil
}

// predisPrefix: any non-null prefix option ("0" included).
func predisPrefix(copts cfgtree.Node) (string, error) {
	v, ok := copts.Get("prefix")
	if !ok || v.IsNull() {
		return "", nil
	}
	return cfgtree.String(v, copts.KeyPath("prefix"))
}

// predisNode reads one predis parameter set into d: scheme/host/port/path,
// username/password, database, timeouts and the 'ssl' context.
func (d *Deployment) predisNode(p cfgtree.Node) error {
	host, err := p.StrOr("host", "127.0.0.1")
	if err != nil {
		return err
	}
	scheme, err := p.StrOr("scheme", "tcp")
	if err != nil {
		return err
	}
	if strings.EqualFold(scheme, "unix") {
		path, err := p.StrOr("path", "")
		if err != nil {
			return err
		}
		host = path
	}
	if err := d.setServer(p, host, scheme, "6379"); err != nil {
		return err
	}
	if pw, ok := p.Get("password"); ok && !cfgtree.Empty(pw) {
		if d.Password, err = cfgtree.String(pw, p.KeyPath("password")); err != nil {
			return err
		}
		if d.Username, err = p.StrOr("username", ""); err != nil {
			return err
		}
	}
	if v, ok := p.Get("database"); ok && !v.IsNull() && v.ToString() != "" {
		if d.DB, err = dbNumber(v, p.KeyPath("database")); err != nil {
			return err
		}
	}
	if d.ConnectTimeout, err = seconds(p, "timeout"); err != nil {
		return err
	}
	if d.ReadTimeout, err = seconds(p, "read_write_timeout"); err != nil {
		return err
	}
	if d.TLS != nil {
		ssl, err := p.Sub("ssl")
		if err != nil {
			return err
		}
		if d.TLS, err = buildTLS(ssl, d.TLS.PeerName); err != nil {
			return err
		}
	}
	return nil
}

// predisList is predis' Client on an array of servers: Sentinel when
// options.replication is 'sentinel', Redis Cluster when options.cluster is
// 'redis', the master of an unmanaged replication when replication is
// 'predis'.
func (r *resolver) predisList(conn, opts cfgtree.Node) (*Deployment, error) {
	copts, err := predisOptions(conn, opts)
	if err != nil {
		return nil, err
	}
	replication, _ := optString(copts, "replication")
	cluster, _ := optString(copts, "cluster")
	servers, err := serverEntries(without(conn, "options", "prefix"))
	if err != nil {
		return nil, err
	}
	switch {
	case replication == "sentinel" || replication == "redis-sentinel":
		d, err := r.predisSentinel(conn, copts, servers)
		if err == nil && cluster != "" {
			d.Warnings = append(d.Warnings, fmt.Sprintf("config %s: options.cluster is %q beside replication 'sentinel': predis 2 and newer then treat this list as a Redis Cluster, so PHP does not reach Sentinel; remove 'cluster' from database.redis.options (the Go side uses Sentinel)", conn.Path, cluster))
		}
		return d, err
	case cluster == "redis" || cluster == "redis-cluster":
		return r.predisCluster(conn.Path, copts, servers)
	case replication == "predis" || replication == "1":
		return r.predisReplication(conn, copts, servers)
	case cluster == "predis" || cluster == "":
		return nil, fmt.Errorf("config %s: %w: predis' client-side sharding (options.cluster %q) spreads keys over the servers with predis' own hash ring; use Redis Cluster (options.cluster = 'redis') or one server", conn.Path, ErrUnsupported, cluster)
	default:
		return nil, fmt.Errorf("config %s: options.cluster %q / options.replication %q: not a predis aggregate connection", conn.Path, cluster, replication)
	}
}

// optString reads a string option ("" for missing, null or false; true is
// "1").
func optString(n cfgtree.Node, key string) (string, error) {
	v, ok := n.Get(key)
	if !ok || v.IsNull() || cfgtree.Empty(v) {
		return "", nil
	}
	return cfgtree.String(v, n.KeyPath(key))
}

// serverEntries reads the entries of a server list: arrays as they are,
// strings as predis parses URIs.
func serverEntries(list cfgtree.Node) ([]cfgtree.Node, error) {
	var out []cfgtree.Node
	for i, k := range list.Arr.Keys {
		path := list.Path + "." + k.String()
		v := list.Arr.Values[i]
		switch {
		case v.IsUnknown():
			return nil, cfgtree.UnknownErr(path, v)
		case v.Kind() == php.String:
			n, err := parsePredisURI(path, v.StringVal())
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		case v.Kind() == php.Array:
			n, err := parseConnection(path, v)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		default:
			return nil, errf(path, "expected a server array or URI, got %s", v.TypeName())
		}
	}
	if len(out) == 0 {
		return nil, errf(list.Path, "lists no servers")
	}
	return out, nil
}

// predisSentinel: the list holds the sentinels; the master is
// options.service; options.parameters (the connection factory's defaults)
// carry the master's password, username and database; a sentinel entry's
// own password authenticates with that sentinel (predis 2+).
func (r *resolver) predisSentinel(conn, copts cfgtree.Node, sentinels []cfgtree.Node) (*Deployment, error) {
	service, err := optString(copts, "service")
	if err != nil {
		return nil, err
	}
	if service == "" {
		return nil, errf(copts.KeyPath("service"), "is missing: predis' replication 'sentinel' needs the master's name (options.service, e.g. 'mymaster')")
	}
	defs, err := copts.Sub("parameters")
	if err != nil {
		return nil, err
	}
	d := r.deployment(conn.Path, Sentinel, copts)
	d.Service = service
	// The master: host and port come from Sentinel; the rest from the
	// parameters.
	master := &Deployment{}
	mp := merge(defs.Path, defs)
	mp.Arr.Set(php.StringKey("host"), php.StringValue("sentinel-master"))
	if err := master.predisNode(mp); err != nil {
		return nil, err
	}
	d.Username, d.Password, d.DB, d.TLS = master.Username, master.Password, master.DB, master.TLS
	d.ConnectTimeout, d.ReadTimeout = master.ConnectTimeout, master.ReadTimeout

	for i, s := range sentinels {
		// createSentinelConnection: no database, password only the
		// sentinel's own, other defaults (username, scheme, ssl) apply.
		sp := without(s, "database")
		if _, ok := sp.Get("password"); !ok {
			sp.Arr.Set(php.StringKey("password"), php.NullValue())
		}
		sp, err := predisDefaults(sp, copts)
		if err != nil {
			return nil, err
		}
		sn := &Deployment{}
		if err := sn.predisNode(sp); err != nil {
			return nil, err
		}
		if sn.Network == "unix" {
			return nil, errf(s.Path, "a sentinel on a unix socket is not supported")
		}
		d.Addrs = append(d.Addrs, sn.Addrs...)
		if i == 0 {
			d.SentinelUsername, d.SentinelPassword = sn.Username, sn.Password
		} else if sn.Password != d.SentinelPassword || sn.Username != d.SentinelUsername {
			d.Warnings = append(d.Warnings, fmt.Sprintf("config %s: the sentinels have different passwords; the Go client uses the first one's for all", conn.Path))
		}
		if (sn.TLS != nil) != (d.TLS != nil) {
			return nil, fmt.Errorf("config %s: %w: the sentinels and the master differ in TLS (scheme tls on one side only); the Go client uses one TLS setting for both", s.Path, ErrUnsupported)
		}
	}
	if d.Prefix, err = predisPrefix(copts); err != nil {
		return nil, err
	}
	return d, nil
}

// predisReplication: predis' unmanaged master/replica set; the Go side
// needs only the master (the node with role or alias 'master').
func (r *resolver) predisReplication(conn, copts cfgtree.Node, servers []cfgtree.Node) (*Deployment, error) {
	for _, s := range servers {
		role, _ := optString(s, "role")
		alias, _ := optString(s, "alias")
		if role != "master" && alias != "master" {
			continue
		}
		p, err := predisDefaults(s, copts)
		if err != nil {
			return nil, err
		}
		d := r.deployment(conn.Path, Standalone, merge(conn.Path, p, copts))
		if err := d.predisNode(p); err != nil {
			return nil, err
		}
		if d.Prefix, err = predisPrefix(copts); err != nil {
			return nil, err
		}
		d.Warnings = append(d.Warnings, fmt.Sprintf("config %s: predis replication without Sentinel: the Go side uses the master %s and does not follow a change of master", conn.Path, d.Addrs[0]))
		return d, nil
	}
	return nil, errf(conn.Path, "predis replication lists no master (a server with 'role' => 'master' or 'alias' => 'master')")
}

// ---- Redis Cluster ----

// cluster is RedisManager::resolveCluster: every node parsed like a
// connection; options = array_merge(redis.options, redis.clusters.options,
// the cluster's own 'options').
func (r *resolver) cluster(clusters cfgtree.Node, name string) (*Deployment, error) {
	list, err := clusters.Sub(name)
	if err != nil {
		return nil, err
	}
	global, err := r.rc.Sub("options")
	if err != nil {
		return nil, err
	}
	clusterOpts, err := clusters.Sub("options")
	if err != nil {
		return nil, err
	}
	own, err := list.Sub("options")
	if err != nil {
		return nil, err
	}
	opts := merge(list.Path+".options", global, clusterOpts, own)
	if r.client == "predis" {
		if p, ok := list.Get("prefix"); ok && !p.IsNull() {
			opts = merge(opts.Path, opts, single("prefix", p))
		}
		servers, err := serverEntries(without(list, "options", "prefix"))
		if err != nil {
			return nil, err
		}
		if c, _ := optString(opts, "cluster"); c != "redis" && c != "redis-cluster" {
			return nil, fmt.Errorf("config %s: %w: with predis a cluster connection uses options.cluster (%q here); only 'redis' (Redis Cluster) is supported, not predis' client-side sharding", list.Path, ErrUnsupported, c)
		}
		return r.predisCluster(list.Path, opts, servers)
	}
	return r.phpredisCluster(list, opts)
}

// phpredisCluster is PhpRedisConnector::connectToCluster: the seeds are the
// nodes' scheme://host:port; password, username, timeouts, context and
// prefix come from the merged options only (a node's own password is not
// read).
func (r *resolver) phpredisCluster(list, opts cfgtree.Node) (*Deployment, error) {
	nodes := without(list, "options")
	if nodes.Arr.Len() == 0 {
		return nil, errf(list.Path, "lists no cluster nodes")
	}
	d := r.deployment(list.Path, Cluster, opts)
	nodePassword := false
	for i, k := range nodes.Arr.Keys {
		path := nodes.Path + "." + k.String()
		n, err := parseConnection(path, nodes.Arr.Values[i])
		if err != nil {
			return nil, err
		}
		host, err := n.StrOr("host", "")
		if err != nil {
			return nil, err
		}
		if host == "" {
			return nil, errf(n.KeyPath("host"), "is missing: Redis host must be a non-empty string")
		}
		scheme, err := n.StrOr("scheme", "")
		if err != nil {
			return nil, err
		}
		node := &Deployment{}
		if err := node.setServer(n, host, scheme, "6379"); err != nil {
			return nil, err
		}
		if node.Network == "unix" {
			return nil, errf(path, "a cluster node on a unix socket is not supported")
		}
		d.Addrs = append(d.Addrs, node.Addrs...)
		if i == 0 {
			d.TLS = node.TLS
		} else if (node.TLS != nil) != (d.TLS != nil) {
			return nil, fmt.Errorf("config %s: %w: some cluster nodes use TLS and some do not", path, ErrUnsupported)
		}
		if pw, ok := n.Get("password"); ok && !cfgtree.Empty(pw) {
			nodePassword = true
		}
	}
	if err := phpredisAuth(d, opts); err != nil {
		return nil, err
	}
	if d.Password == "" && nodePassword {
		d.Warnings = append(d.Warnings, fmt.Sprintf("config %s: a node sets a password, but Laravel's phpredis cluster connector reads only the options' password (database.redis.options or redis.clusters.options); none is set there, so neither PHP nor this server authenticates", list.Path))
	}
	var err error
	if d.Prefix, err = phpredisPrefix(opts); err != nil {
		return nil, err
	}
	if d.ConnectTimeout, err = seconds(opts, "timeout"); err != nil {
		return nil, err
	}
	if d.ReadTimeout, err = seconds(opts, "read_timeout"); err != nil {
		return nil, err
	}
	if d.TLS != nil {
		ctx, err := phpredisContext(opts)
		if err != nil {
			return nil, err
		}
		if d.TLS, err = buildTLS(ctx, ""); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// predisCluster: predis' RedisCluster; each node's parameters are its own
// plus the 'parameters' defaults. The Go client takes the authentication
// and TLS of the first node for all.
func (r *resolver) predisCluster(path string, copts cfgtree.Node, servers []cfgtree.Node) (*Deployment, error) {
	d := r.deployment(path, Cluster, copts)
	for i, s := range servers {
		p, err := predisDefaults(s, copts)
		if err != nil {
			return nil, err
		}
		node := &Deployment{}
		if err := node.predisNode(p); err != nil {
			return nil, err
		}
		if node.Network == "unix" {
			return nil, errf(s.Path, "a cluster node on a unix socket is not supported")
		}
		d.Addrs = append(d.Addrs, node.Addrs...)
		if i == 0 {
			d.Username, d.Password, d.TLS = node.Username, node.Password, node.TLS
			d.ConnectTimeout, d.ReadTimeout = node.ConnectTimeout, node.ReadTimeout
			continue
		}
		if (node.TLS != nil) != (d.TLS != nil) {
			return nil, fmt.Errorf("config %s: %w: some cluster nodes use TLS and some do not", s.Path, ErrUnsupported)
		}
		if node.Password != d.Password || node.Username != d.Username {
			d.Warnings = append(d.Warnings, fmt.Sprintf("config %s: the cluster nodes authenticate differently; the Go client uses the first node's credentials for all", path))
		}
	}
	var err error
	if d.Prefix, err = predisPrefix(copts); err != nil {
		return nil, err
	}
	return d, nil
}

// ---- shared ----

func (r *resolver) deployment(source string, mode Mode, options cfgtree.Node) *Deployment {
	return &Deployment{Name: r.name, Source: source, Client: r.client, Mode: mode, Network: "tcp",
		Options: options.Arr, OptionsPath: options.Path}
}

// setServer sets Network, Addrs and (for tls) an empty TLS marker from a
// host that may carry its scheme ("tls://h", "/run/redis.sock") and the
// port at m.port.
func (d *Deployment) setServer(m cfgtree.Node, host, scheme, defPort string) error {
	// A host written with its scheme ("tls://cache.example"); Laravel 12+
	// insists it matches a 'scheme' option.
	if before, after, ok := strings.Cut(host, "://"); ok {
		if scheme != "" && !strings.EqualFold(scheme, before) && !(strings.EqualFold(scheme, "tcp") && strings.EqualFold(before, "redis")) {
			return errf(m.KeyPath("host"), "the scheme in the host (%s) does not match the scheme option (%s)", before, scheme)
		}
		scheme, host = before, after
	}
	host = cfgtree.DialHost(host)
	d.Network = "tcp"
	switch strings.ToLower(scheme) {
	case "", "tcp", "redis":
	case "tls", "ssl", "rediss":
		d.TLS = &TLS{PeerName: host}
	case "unix":
		d.Network = "unix"
	default:
		return errf(m.KeyPath("scheme"), "unsupported Redis scheme %q (tcp, tls or unix)", scheme)
	}
	if strings.HasPrefix(host, "/") {
		d.Network = "unix"
	}
	if d.Network == "unix" {
		if host == "" {
			return errf(m.KeyPath("path"), "is missing: the unix socket path")
		}
		d.Addrs = []string{host}
		d.TLS = nil
		return nil
	}
	if host == "" {
		host = "127.0.0.1"
	}
	port := defPort
	if v, ok := m.Get("port"); ok && !v.IsNull() {
		s, err := cfgtree.String(v, m.KeyPath("port"))
		if err != nil {
			return err
		}
		port = s
	}
	p := php.StringValue(port).ToInt()
	if port == "" || port == "0" {
		p = 6379
	}
	if p <= 0 || p > 65535 {
		return errf(m.KeyPath("port"), "%q is not a port", port)
	}
	d.Addrs = []string{net.JoinHostPort(host, strconv.FormatInt(p, 10))}
	return nil
}

func dbNumber(v php.Value, path string) (int, error) {
	n, err := cfgtree.Int(v, path)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > 1<<31-1 {
		return 0, errf(path, "%d is not a Redis database number", n)
	}
	return int(n), nil
}

// seconds reads a float number of seconds; missing, null, zero or negative
// (PHP's "no limit") are 0.
func seconds(m cfgtree.Node, key string) (time.Duration, error) {
	v, ok := m.Get(key)
	if !ok || v.IsNull() {
		return 0, nil
	}
	if v.IsUnknown() {
		return 0, cfgtree.UnknownErr(m.KeyPath(key), v)
	}
	if v.Kind() == php.Array {
		return 0, errf(m.KeyPath(key), "expected a number of seconds, got array")
	}
	f := v.ToFloat()
	if f <= 0 {
		return 0, nil
	}
	return time.Duration(f * float64(time.Second)), nil
}

func single(k string, v php.Value) cfgtree.Node {
	a := php.NewArray()
	a.Set(php.StringKey(k), v)
	return cfgtree.Node{Arr: a}
}
