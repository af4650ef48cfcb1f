package redis

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// maxIOTimeout caps the read and write timeouts of a client made by Open:
// a silent server must fail a call quickly, whatever the URL says.
const maxIOTimeout = time.Second

// Open returns a store over a new client for rawURL, which Close closes.
// Like [New], it does no I/O (unless min_idle_conns= asks go-redis to
// dial idle connections at once): a server that is down surfaces on the
// first call.
//
// rawURL takes one of the forms that the package doc lists (URLs): a
// single server, a primary that Redis Sentinel watches, or a Redis
// Cluster, with the key prefix in prefix= or opts.Prefix (giving both,
// different, is an error).
//
// A query that does not parse (a bad %-escape, a ';') is an error, where
// go-redis would drop the parameter, and so is a fragment, which go-redis
// would ignore: it is most likely the end of a password or value with a
// '#' unescaped. So is a string without a scheme, and a user name without
// a password (go-redis would send no credentials: it is most likely a
// password written without its ':').
//
// Every numeric parameter must be a whole number in its range, where
// go-redis would take a negative pool size and panic: db 0 to 2^31-1,
// protocol 2 or 3, max_retries and max_redirects -1 (none) to 1000,
// dialer_retries 0 to 1000, pool_size 1 to 10000, min_idle_conns,
// max_idle_conns, max_active_conns and max_concurrent_dials 0 to 10000,
// pipeline_pool_size -1 (none) to 10000, the pipeline buffer sizes 0 to
// 64 MiB, failing_timeout_seconds 0 to 86400. Every duration parameter
// (dial_timeout, pool_timeout, conn_max_idle_time, ...) must be whole
// seconds or a Go duration ("500ms") from 0 to 24h, or -1, which go-redis
// reads as none. The database of the path must be from 0 to 2^31-1 too.
//
// The client of a single server or a Sentinel's primary asks each new
// connection's server its role (ROLE), and fails the connection with an
// error wrapping [cache.ErrReadOnly] when it is a replica: the URL names a
// replica, not the primary, and every call, reads included, says so. (An
// ACL that refuses ROLE skips the check.)
//
// The client respects context deadlines (ContextTimeoutEnabled), and its
// dial, read and write timeouts are at most a second. Unless pool_size=
// says otherwise, it keeps one connection for commands (per node of a
// Cluster): the store's calls are the coordinator's background work, one
// goroutine for the pins and one for the record, never a query's, so a
// process holds two connections to a server, with its subscription. Errors show the URL
// as [Redact] prints it (nothing after the scheme where a malformed URL
// may put the password in the host, port or path; the names of unknown
// parameters hidden), and otherwise quote nothing of it but its scheme
// and the names of the parameters Open knows: not the password, not a
// value (the ca= path and sentinel_password= included), not a host of a
// list, not a piece of a URL that does not parse. Where the password would
// still show in what is left (a short one, equal to a port, say), the URL
// shows as its scheme alone.
func Open(rawURL string, opts Options) (*Store, error) {
	t, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if t.prefix != "" {
		if opts.Prefix != "" && opts.Prefix != t.prefix {
			return nil, openError(rawURL, "the url's prefix differs from Options.Prefix: give it once")
		}
		opts.Prefix = t.prefix
	}
	s := New(t.client(), opts)
	s.owned = true
	return s, nil
}

// OpenClient returns a new go-redis client for rawURL, made as [Open]
// makes its own, for a program that needs Redis beside the store (a
// subscriber of its own, a tool). Its errors are [Open]'s; a prefix= is
// checked and otherwise ignored, since the client names no key. The
// caller closes the client.
func OpenClient(rawURL string) (goredis.UniversalClient, error) {
	t, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return t.client(), nil
}

// poolSize returns the PoolSize option of t's client.
func poolSize(t target) *int {
	switch {
	case t.failover != nil:
		return &t.failover.PoolSize
	case t.cluster != nil:
		return &t.cluster.PoolSize
	}
	return &t.single.PoolSize
}

// target is the client options of a URL, one of the three set, and the
// key prefix the URL gives ("" when it gives none).
type target struct {
	single   *goredis.Options
	failover *goredis.FailoverOptions
	cluster  *goredis.ClusterOptions
	prefix   string
}

// client returns a new client of t.
func (t target) client() goredis.UniversalClient {
	switch {
	case t.failover != nil:
		return goredis.NewFailoverClient(t.failover)
	case t.cluster != nil:
		return goredis.NewClusterClient(t.cluster)
	}
	return goredis.NewClient(t.single)
}

// parseURL returns the client options of rawURL.
func parseURL(rawURL string) (target, error) {
	if scheme, _ := splitScheme(rawURL); scheme == "" {
		// Most likely a password, or a URL without its scheme: show none
		// of it.
		return target{}, openError(rawURL, "not a url: want redis://, rediss://, unix://, redis[s]+sentinel:// or redis[s]+cluster://")
	}
	form, base, err := formOf(rawURL)
	if err != nil {
		return target{}, err
	}
	u, err := url.Parse(base)
	if err != nil {
		return target{}, openError(rawURL, "%s", reason(err))
	}
	if u.Fragment != "" {
		return target{}, openError(rawURL, "a redis url has no fragment: escape a '#' as %%23")
	}
	if u.User != nil && u.User.Username() != "" {
		if _, ok := u.User.Password(); !ok {
			// go-redis would send no AUTH: the name would be ignored, and
			// it is most likely a password written without its ':'.
			return target{}, openError(rawURL, "the url has a user name and no password: write a password alone as :password@ before the host, a user's as user:password@")
		}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return target{}, openError(rawURL, "invalid query: %s", reason(err))
	}
	if err := checkNumbers(rawURL, q, form.kind); err != nil {
		return target{}, err
	}
	prefix, err := prefixOf(rawURL, q)
	if err != nil {
		return target{}, err
	}
	q.Del("prefix")
	ca, serverName := q.Get("ca"), q.Get("server_name")
	hasTLSParams := q.Has("ca") || q.Has("server_name")
	q.Del("ca")
	q.Del("server_name")

	var (
		t   target
		tc  **tls.Config
		tos []*time.Duration
	)
	switch form.kind {
	case singleForm:
		u.RawQuery = q.Encode()
		o, err := goredis.ParseURL(u.String())
		if err != nil {
			return target{}, openError(rawURL, "%s", redisReason(err, rawURL))
		}
		if o.DB < 0 || o.DB > math.MaxInt32 {
			return target{}, openError(rawURL, "invalid database number: want a whole number from 0 to %d", math.MaxInt32)
		}
		o.ContextTimeoutEnabled = true
		o.OnConnect = checkRole
		t.single, tc, tos = o, &o.TLSConfig, []*time.Duration{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout}
	case sentinelForm:
		o, err := failoverOptions(rawURL, form, u, q)
		if err != nil {
			return target{}, err
		}
		if o.DB < 0 || o.DB > math.MaxInt32 {
			return target{}, openError(rawURL, "invalid database number: want a whole number from 0 to %d", math.MaxInt32)
		}
		o.ContextTimeoutEnabled = true
		o.OnConnect = checkRole
		t.failover, tc, tos = o, &o.TLSConfig, []*time.Duration{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout}
	case clusterForm:
		o, err := clusterOptions(rawURL, form, u, q)
		if err != nil {
			return target{}, err
		}
		o.ContextTimeoutEnabled = true
		t.cluster, tc, tos = o, &o.TLSConfig, []*time.Duration{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout}
	}
	if !q.Has("pool_size") {
		// The store's calls are background work, made by a goroutine or
		// two (the record's, the pins'), never by a query: one connection
		// serves them, beside the subscription's.
		*poolSize(t) = 1
	}
	if *tc != nil && form.kind != singleForm {
		// Each connection verifies its own host (tls.Dial takes it from
		// the address), not the first host of the URL as go-redis sets.
		(*tc).ServerName = ""
	}
	if hasTLSParams {
		if *tc == nil {
			return target{}, openError(rawURL, "ca and server_name need a rediss%s:// url", form.suffix)
		}
		if serverName != "" {
			(*tc).ServerName = serverName
		}
		if ca != "" {
			pem, err := readCA(ca)
			if err != nil {
				var perr *fs.PathError
				if errors.As(err, &perr) {
					err = perr.Err // without the path, a parameter's value
				}
				return target{}, openError(rawURL, "read ca file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return target{}, openError(rawURL, "no PEM certificate in the ca file")
			}
			(*tc).RootCAs = pool
		}
	}
	for _, d := range tos {
		if *d <= 0 || *d > maxIOTimeout {
			*d = maxIOTimeout
		}
	}
	t.prefix = prefix
	return t, nil
}

// maxPrefix bounds the length of a key prefix given in a URL.
const maxPrefix = 64

// prefixOf returns the key prefix of query q ("" when it has no prefix=),
// or an error when it is given twice or is not a valid prefix: 1 to 64
// ASCII letters, digits, '-', '_', '.' and ':'. So it never holds a '{'
// or '}', which would move the hash tag of the keys, nor a character of
// an ACL key pattern ('*', '?', '[', ']', '\'). The error quotes no value.
func prefixOf(rawURL string, q url.Values) (string, error) {
	vs, ok := q["prefix"]
	if !ok {
		return "", nil
	}
	if len(vs) > 1 {
		return "", openError(rawURL, "prefix given more than once")
	}
	if !validPrefix(vs[0]) {
		return "", openError(rawURL, "invalid prefix: want 1 to %d ASCII letters, digits, '-', '_', '.' or ':'", maxPrefix)
	}
	return vs[0], nil
}

// validPrefix reports whether p is a key prefix a URL may give.
func validPrefix(p string) bool {
	if p == "" || len(p) > maxPrefix {
		return false
	}
	for _, c := range p {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// maxCAFile bounds the ca= file that Open reads: a path to a device
// (/dev/zero) must not read forever.
const maxCAFile = 4 << 20

// readCA returns the content of the ca= file at path, at most maxCAFile
// bytes. Its errors name no path. The fuzz test replaces it, so that no
// input reads a file.
var readCA = func(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCAFile+1))
	if err == nil && len(b) > maxCAFile {
		err = fmt.Errorf("larger than %d MiB", maxCAFile>>20)
	}
	return b, err
}

// openError returns the error "redis: open <Redact(rawURL)>: <format>".
// The caller's format and arguments must hold no part of rawURL: pass an
// error of net/url or go-redis through [reason] or [redisReason]. Should
// the password still show in what Redact shows (a port equal to it, say),
// the URL shows as its scheme alone, and should it show in the reason, the
// reason is "invalid URL" and nothing is wrapped: hiding the password
// alone would show where it was.
func openError(rawURL, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	p := split(rawURL)
	shown, why := p.String(), err.Error()
	for _, secret := range passwords(rawURL) {
		// Hide the whole piece that holds it: replacing the password
		// alone would show where it was, and so a short one.
		if strings.Contains(strings.TrimPrefix(shown, p.scheme), secret) {
			shown = p.scheme + redacted
		}
		if strings.Contains(why, secret) {
			why = "invalid URL"
		}
	}
	if why != err.Error() {
		return fmt.Errorf("redis: open %s: %s", shown, why)
	}
	return fmt.Errorf("redis: open %s: %w", shown, err)
}

// passwords returns the forms the password of rawURL may take in a
// message: as written (after the user name, up to the last '@'),
// unescaped, and as url.Parse reads it.
func passwords(rawURL string) []string {
	var out []string
	add := func(p string) {
		if p != "" && p != redacted && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	_, rest := splitScheme(rawURL)
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		// Without a ':', the user name is most likely a password.
		user, p, ok := strings.Cut(rest[:at], ":")
		if !ok {
			p = user
		}
		add(p)
		if up, err := url.PathUnescape(p); err == nil {
			add(up)
		}
		if up, err := url.QueryUnescape(p); err == nil {
			add(up)
		}
	}
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			add(p)
		} else {
			add(u.User.Username())
		}
	}
	return out
}

// quoted matches a string as strconv.Quote (%q) writes it: how net/url,
// net/netip, strconv and go-redis quote a piece of their input.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// reason returns what went wrong in err, an error of net/url or go-redis,
// without quoting its input: the message without its "net/url: " or
// "redis: " prefix, cut at its first ": ", with every quoted string
// removed. `parse "…": invalid port ":x" after host` gives "invalid port
// after host"; `redis: invalid dial_timeout duration: time: invalid
// duration "x"` gives "invalid dial_timeout duration".
func reason(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // without the URL
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "net/url: ")
	msg = strings.TrimPrefix(msg, "redis: ")
	msg = quoted.ReplaceAllString(msg, "")
	msg, _, _ = strings.Cut(msg, ": ")
	return strings.Join(strings.Fields(msg), " ")
}

// redisReason is [reason] for an error of goredis.ParseURL on rawURL, which
// also keeps the two details that are safe to show: the scheme of an
// "invalid URL scheme", and the names of an "unexpected option" when
// [Redact] shows them all.
func redisReason(err error, rawURL string) string {
	r := reason(err)
	_, detail, _ := strings.Cut(strings.TrimPrefix(err.Error(), "redis: "), ": ")
	p := split(rawURL)
	switch r {
	case "invalid URL scheme":
		if p.scheme != "" && strings.EqualFold(detail, strings.TrimSuffix(p.scheme, "://")) {
			return r + ": " + detail
		}
	case "unexpected option":
		var shown []string
		for _, prm := range p.params {
			if knownParam(prm.name) {
				shown = append(shown, prm.name)
			}
		}
		names := strings.Split(detail, ", ")
		if !slices.ContainsFunc(names, func(n string) bool { return !slices.Contains(shown, n) }) {
			return r + ": " + detail
		}
	}
	return r
}

// redacted replaces what Redact hides, as url.URL.Redacted does passwords.
const redacted = "xxxxx"

// Redact returns rawURL with its user information (user name and
// password, whichever holds a secret) and the value of every query
// parameter replaced by "xxxxx", and its fragment too, should it have one:
//
//	redis://xxxxx@host:6379/0?dial_timeout=xxxxx&password=xxxxx
//
// The scheme, the host and the path stay as written, and so do the names
// of the parameters Open knows; any other name shows as "xxxxx" (it may be
// the tail of a password with an '&' in it). Redact never fails, and works
// on the text alone: a string that does not start with a scheme
// ("redis://") is most likely a password or a URL without its scheme, and
// is shown as "xxxxx" alone. The user information ends at the last '@',
// which may be a password's. So when a '?' or '#' comes before that '@'
// (a password with a '?' or '#' unescaped, or a value with an '@'), or
// when the hosts and path are not well formed (host names of letters,
// digits, '.', '-' and '_', or bracketed addresses, each with an optional
// port of digits; a path of such characters; as when a forgotten '@'
// leaves the password in the host or port), nothing tells a secret from
// the rest and everything after the scheme is replaced.
func Redact(rawURL string) string {
	return split(rawURL).String()
}

// urlParts are the pieces of a URL, as [Redact] splits it.
type urlParts struct {
	scheme      string // "redis://", or "" when rawURL has none
	opaque      bool   // no scheme, or a '?' or '#' before the last '@': show nothing more
	userinfo    bool   // there is an '@'
	hostPath    string // the host, port and path
	query       bool   // there is a '?'
	params      []urlParam
	hasFragment bool // there is a '#' (after the '?', if any)
}

// urlParam is a query parameter.
type urlParam struct {
	name     string // as written
	hasValue bool   // written with '='
}

// split splits rawURL into the pieces Redact shows or hides.
func split(rawURL string) urlParts {
	var p urlParts
	p.scheme, rawURL = splitScheme(rawURL)
	if p.scheme == "" {
		// Not a URL: most likely a password, or a URL without its scheme.
		p.opaque = true
		return p
	}
	if at := strings.LastIndex(rawURL, "@"); at >= 0 {
		info := rawURL[:at]
		if strings.ContainsAny(info, "?#") {
			p.opaque = true
			return p
		}
		p.userinfo = true
		rawURL = rawURL[at+1:]
	}
	rawURL, _, p.hasFragment = strings.Cut(rawURL, "#")
	var query string
	p.hostPath, query, p.query = strings.Cut(rawURL, "?")
	if !wellFormed(p.scheme, p.hostPath) {
		return urlParts{scheme: p.scheme, opaque: true}
	}
	if p.query {
		for kv := range strings.SplitSeq(query, "&") {
			name, _, hasValue := strings.Cut(kv, "=")
			p.params = append(p.params, urlParam{name, hasValue})
		}
	}
	return p
}

// wellFormed reports whether hostPath, what follows the scheme and user
// information of a URL up to its query, is a list of hosts and a path that
// Redact may show: host names, IPv4 addresses or IPv6 addresses in
// brackets (which must parse as such, without a zone), each
// with an optional port of digits, then a path of names. A unix:// URL
// has a file's path.
func wellFormed(scheme, hostPath string) bool {
	name := func(s string, slash bool) bool {
		for _, c := range s {
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == '_':
			case c == '/' && slash:
			default:
				return false
			}
		}
		return true
	}
	if strings.EqualFold(scheme, "unix://") {
		return name(hostPath, true)
	}
	hosts, path, _ := strings.Cut(hostPath, "/")
	if !name(path, true) {
		return false
	}
	if hosts == "" {
		return true
	}
	for h := range strings.SplitSeq(hosts, ",") {
		host, port := h, ""
		if strings.HasPrefix(h, "[") {
			end := strings.Index(h, "]")
			if end < 0 {
				return false
			}
			if a, err := netip.ParseAddr(h[1:end]); err != nil || !a.Is6() || a.Zone() != "" {
				return false // not an IPv6 address: a password, say, with the '@' forgotten
			}
			host, port = "", h[end+1:]
			if port != "" && port[0] != ':' {
				return false
			}
			port = strings.TrimPrefix(port, ":")
		} else if i := strings.IndexByte(h, ':'); i >= 0 {
			host, port = h[:i], h[i+1:]
			if port == "" {
				return false
			}
		}
		if host == "" && !strings.HasPrefix(h, "[") || !name(host, false) {
			return false
		}
		for _, c := range port {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// knownParam reports whether name is the name of a parameter Open or
// go-redis reads from a URL, which Redact shows.
func knownParam(name string) bool {
	if _, ok := intParams[name]; ok {
		return true
	}
	return slices.Contains(durationParams, name) || slices.Contains(otherParams, name)
}

// otherParams are the parameters, neither integers nor durations, that
// Open or go-redis reads from a URL.
var otherParams = []string{
	"prefix", "ca", "server_name", "sentinel_username", "sentinel_password", "username", "password",
	"client_name", "addr", "skip_verify", "pool_fifo", "read_only", "readonly",
	"route_by_latency", "route_randomly", "context_timeout_enabled",
	"disable_identity", "disable_indentity", "identity_suffix", "unstable_resp3",
}

// String returns the URL with the password, values and fragment redacted.
func (p urlParts) String() string {
	var b strings.Builder
	b.WriteString(p.scheme)
	if p.opaque {
		b.WriteString(redacted)
		return b.String()
	}
	if p.userinfo {
		b.WriteString(redacted + "@")
	}
	b.WriteString(p.hostPath)
	if p.query {
		b.WriteByte('?')
		for i, prm := range p.params {
			if i > 0 {
				b.WriteByte('&')
			}
			if knownParam(prm.name) {
				b.WriteString(prm.name)
			} else {
				b.WriteString(redacted)
			}
			if prm.hasValue {
				b.WriteString("=" + redacted)
			}
		}
	}
	if p.hasFragment {
		b.WriteString("#" + redacted)
	}
	return b.String()
}

// splitScheme splits "scheme://rest" into "scheme://" and rest, when what
// comes before "://" is a scheme (RFC 3986: a letter, then letters, digits,
// '+', '-' or '.'), and returns "" and rawURL otherwise.
func splitScheme(rawURL string) (scheme, rest string) {
	name, rest, ok := strings.Cut(rawURL, "://")
	if !ok || !validScheme(name) {
		return "", rawURL
	}
	return name + "://", rest
}

func validScheme(s string) bool {
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// numberRange is the values a numeric parameter of a URL may take.
type numberRange struct{ min, max int }

// maxConns bounds the parameters that count connections: go-redis makes
// channels of their size, and panics on a negative one.
const maxConns = 10000

// intParams are the integer parameters go-redis reads from a URL, of any
// form, with the values Open accepts.
var intParams = map[string]numberRange{
	"db":                         {0, math.MaxInt32},
	"protocol":                   {2, 3},
	"max_retries":                {-1, 1000}, // -1: no retries
	"max_redirects":              {-1, 1000}, // -1: no redirects
	"dialer_retries":             {0, 1000},
	"pool_size":                  {1, maxConns},
	"min_idle_conns":             {0, maxConns},
	"max_idle_conns":             {0, maxConns},
	"max_active_conns":           {0, maxConns},
	"max_concurrent_dials":       {0, maxConns},
	"pipeline_pool_size":         {-1, maxConns}, // -1: no pipeline pool
	"pipeline_read_buffer_size":  {0, 64 << 20},
	"pipeline_write_buffer_size": {0, 64 << 20},
	"failing_timeout_seconds":    {0, 86400},
}

// maxDuration bounds the duration parameters of a URL.
const maxDuration = 24 * time.Hour

// durationParams are the duration parameters go-redis reads from a URL,
// of any form.
var durationParams = []string{
	"dial_timeout", "read_timeout", "write_timeout", "pool_timeout",
	"min_retry_backoff", "max_retry_backoff",
	"conn_max_idle_time", "idle_timeout", "conn_max_lifetime", "max_conn_age", "conn_max_lifetime_jitter",
	"dialer_retry_timeout", "route_by_latency_tolerance",
}

// checkNumbers returns an error naming the first numeric or duration
// parameter of q (in the order of their names) whose value go-redis would
// reject, misread or panic on: not a number, out of its range, or empty.
// The error quotes no value, which may be a secret put there by mistake.
// A db= of a Cluster URL is left to go-redis, which refuses it.
func checkNumbers(rawURL string, q url.Values, kind formKind) error {
	names := slices.Sorted(maps.Keys(q))
	for _, name := range names {
		if name == "db" && kind == clusterForm {
			continue
		}
		for _, v := range q[name] {
			if r, ok := intParams[name]; ok {
				n, err := strconv.Atoi(v)
				if err != nil || n < r.min || n > r.max {
					return openError(rawURL, "invalid %s: want a whole number from %d to %d", name, r.min, r.max)
				}
			}
			if slices.Contains(durationParams, name) && !validDuration(v) {
				return openError(rawURL, "invalid %s: want a duration from 0 to %s (500ms, 2s, or whole seconds), or -1 for none", name, "24h")
			}
		}
	}
	return nil
}

// validDuration reports whether s is a duration go-redis reads as Open
// accepts it: whole seconds or a Go duration, from 0 to maxDuration, or
// -1, which go-redis reads as none.
func validDuration(s string) bool {
	if s == "-1" {
		return true
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n >= 0 && n <= int64(maxDuration/time.Second)
	}
	d, err := time.ParseDuration(s)
	return err == nil && d >= 0 && d <= maxDuration
}
