package redis

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// formKind is the kind of deployment a URL names.
type formKind int

const (
	singleForm   formKind = iota // redis://, rediss://, unix://
	sentinelForm                 // redis+sentinel://, rediss+sentinel://
	clusterForm                  // redis+cluster://, rediss+cluster://
)

// urlForm is the form of a URL, as [formOf] reads it.
type urlForm struct {
	kind   formKind
	scheme string   // "redis" or "rediss" for the forms with a host list
	suffix string   // "+sentinel" or "+cluster", or ""
	hosts  []string // host:port, each with its port
}

// The default ports of the hosts of a list.
const (
	sentinelPort = "26379"
	clusterPort  = "6379"
)

// formOf returns the form of rawURL and the URL to parse it as: rawURL
// itself for a single server, and for a host list the URL with its
// scheme's "+sentinel" or "+cluster" and every host but the first left
// out, so that net/url reads it as one server's.
func formOf(rawURL string) (urlForm, string, error) {
	scheme, rest := splitScheme(rawURL)
	name := strings.ToLower(strings.TrimSuffix(scheme, "://"))
	f := urlForm{kind: singleForm}
	defPort := ""
	switch name {
	case "redis+sentinel", "rediss+sentinel":
		f.kind, defPort = sentinelForm, sentinelPort
	case "redis+cluster", "rediss+cluster":
		f.kind, defPort = clusterForm, clusterPort
	default:
		return f, rawURL, nil
	}
	f.scheme, f.suffix, _ = strings.Cut(name, "+")
	f.suffix = "+" + f.suffix
	// The authority ends where net/url ends it; the user information at
	// its last '@'.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	auth, tail := rest[:end], rest[end:]
	userinfo, list := "", auth
	if at := strings.LastIndex(auth, "@"); at >= 0 {
		userinfo, list = auth[:at+1], auth[at+1:]
	}
	hosts, err := parseHosts(list, defPort)
	if err != nil {
		return f, "", openError(rawURL, "%s", err)
	}
	f.hosts = hosts
	return f, f.scheme + "://" + userinfo + hosts[0] + tail, nil
}

// parseHosts parses a comma-separated list of host[:port], [ipv6][:port]
// included, giving defPort to those without a port. Its errors quote no
// host: a malformed URL may have put a password there.
func parseHosts(list, defPort string) ([]string, error) {
	if list == "" {
		return nil, errors.New("no host")
	}
	var hosts []string
	for i, h := range strings.Split(list, ",") {
		var host, port string
		switch {
		case h == "":
			return nil, fmt.Errorf("host %d of the list is empty", i+1)
		case strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]"):
			host, port = h[1:len(h)-1], defPort
		case !strings.Contains(h, ":"):
			host, port = h, defPort
		default:
			var err error
			if host, port, err = net.SplitHostPort(h); err != nil {
				return nil, fmt.Errorf("host %d of the list: invalid host or port", i+1)
			}
		}
		if host == "" {
			return nil, fmt.Errorf("host %d of the list has no name", i+1)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("host %d of the list: invalid port", i+1)
		}
		hosts = append(hosts, net.JoinHostPort(host, port))
	}
	return hosts, nil
}

// refused returns an error for the first parameter of q that names, and
// why it is not accepted.
func refused(rawURL string, q url.Values, why string, names ...string) error {
	for _, n := range names {
		if q.Has(n) {
			return openError(rawURL, "unexpected option: %s: %s", n, why)
		}
	}
	return nil
}

// failoverOptions returns the options of a Sentinel URL: rawURL, of form
// f, read as u with its query q (without the TLS parameters).
func failoverOptions(rawURL string, f urlForm, u *url.URL, q url.Values) (*goredis.FailoverOptions, error) {
	// Split the path as written, so that a %2F stays in the master's name.
	segs := strings.FieldsFunc(u.EscapedPath(), func(r rune) bool { return r == '/' })
	for i, seg := range segs {
		var err error
		if segs[i], err = url.PathUnescape(seg); err != nil {
			return nil, openError(rawURL, "invalid URL path: %s", reason(err))
		}
	}
	if len(segs) == 0 {
		return nil, openError(rawURL, "a sentinel url names the master: %s%s://hosts/master[/db]", f.scheme, f.suffix)
	}
	if len(segs) > 2 {
		return nil, openError(rawURL, "invalid URL path: want /master or /master/db")
	}
	if err := refused(rawURL, q, "the url gives it otherwise", "master_name", "username", "password"); err != nil {
		return nil, err
	}
	if err := refused(rawURL, q, "the store uses the primary alone",
		"route_by_latency", "route_randomly", "replica_only", "use_disconnected_replicas"); err != nil {
		return nil, err
	}
	gu := &url.URL{Scheme: f.scheme, Host: f.hosts[0]}
	if len(segs) == 2 {
		gu.Path = "/" + segs[1]
	}
	// go-redis's form: the sentinels' credentials in the user
	// information, the primary's in parameters.
	if q.Has("sentinel_username") || q.Has("sentinel_password") {
		gu.User = url.UserPassword(q.Get("sentinel_username"), q.Get("sentinel_password"))
		if !q.Has("sentinel_password") {
			gu.User = url.User(q.Get("sentinel_username"))
		}
	}
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	q.Set("master_name", segs[0])
	if u.User != nil {
		q.Set("username", u.User.Username())
		if p, ok := u.User.Password(); ok {
			q.Set("password", p)
		}
	}
	for _, h := range f.hosts[1:] {
		q.Add("addr", h)
	}
	gu.RawQuery = q.Encode()
	o, err := goredis.ParseFailoverURL(gu.String())
	if err != nil {
		return nil, openError(rawURL, "%s", redisReason(err, rawURL))
	}
	return o, nil
}

// clusterOptions returns the options of a Cluster URL, as failoverOptions
// does.
func clusterOptions(rawURL string, f urlForm, u *url.URL, q url.Values) (*goredis.ClusterOptions, error) {
	if u.Path != "" && u.Path != "/" {
		return nil, openError(rawURL, "a cluster url has no path: a cluster has only database 0")
	}
	if err := refused(rawURL, q, "the store reads and writes the masters alone",
		"read_only", "route_by_latency", "route_randomly"); err != nil {
		return nil, err
	}
	gu := &url.URL{Scheme: f.scheme, User: u.User, Host: f.hosts[0]}
	for _, h := range f.hosts[1:] {
		q.Add("addr", h)
	}
	gu.RawQuery = q.Encode()
	o, err := goredis.ParseClusterURL(gu.String())
	if err != nil {
		return nil, openError(rawURL, "%s", redisReason(err, rawURL))
	}
	return o, nil
}
