package redis

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// maxIOTimeout caps the read and write timeouts of a client made by Open:
// a silent server must fail a call quickly, whatever the URL says.
const maxIOTimeout = time.Second

// Open returns a store over a new client for rawURL, which Close closes.
// Like [New], it does no I/O: a server that is down surfaces on the first
// call.
//
// rawURL is a go-redis URL: redis://[user:password@]host[:port][/db],
// rediss:// for TLS, or unix://[user:password@]/path/to.sock, with the
// query parameters of [goredis.ParseURL] (db=, dial_timeout=, ...). Two
// more parameters configure TLS, with rediss:// only:
//
//	ca=<path>           a PEM file of the CAs that verify the server
//	server_name=<name>  the name to verify the certificate against
//
// The client respects context deadlines (ContextTimeoutEnabled), and its
// dial, read and write timeouts are at most a second. Errors never contain
// the password: the URL appears in them as [Redact] prints it.
func Open(rawURL string, opts Options) (*Store, error) {
	copts, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	s := New(goredis.NewClient(copts), opts)
	s.owned = true
	return s, nil
}

// parseURL returns the client options of rawURL.
func parseURL(rawURL string) (*goredis.Options, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // without the URL, which holds the password
		}
		return nil, openError(rawURL, "%v", err)
	}
	q := u.Query()
	ca, serverName := q.Get("ca"), q.Get("server_name")
	hasTLSParams := q.Has("ca") || q.Has("server_name")
	q.Del("ca")
	q.Del("server_name")
	u.RawQuery = q.Encode()

	copts, err := goredis.ParseURL(u.String())
	if err != nil {
		return nil, openError(rawURL, "%s", strings.TrimPrefix(err.Error(), "redis: "))
	}
	if hasTLSParams {
		if copts.TLSConfig == nil {
			return nil, openError(rawURL, "ca and server_name need a rediss:// url")
		}
		if serverName != "" {
			copts.TLSConfig.ServerName = serverName
		}
		if ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, openError(rawURL, "read ca file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, openError(rawURL, "no PEM certificate in ca file %s", ca)
			}
			copts.TLSConfig.RootCAs = pool
		}
	}
	copts.ContextTimeoutEnabled = true
	for _, d := range []*time.Duration{&copts.DialTimeout, &copts.ReadTimeout, &copts.WriteTimeout} {
		if *d <= 0 || *d > maxIOTimeout {
			*d = maxIOTimeout
		}
	}
	return copts, nil
}

// openError returns the error "redis: open <redacted url>: <format>". Should
// the message still contain the password (an error quoting part of a
// malformed URL, say), it is replaced there and nothing is wrapped.
func openError(rawURL, format string, args ...any) error {
	err := fmt.Errorf("redis: open %s: "+format, append([]any{Redact(rawURL)}, args...)...)
	msg := err.Error()
	scrubbed := msg
	for _, secret := range passwords(rawURL) {
		scrubbed = strings.ReplaceAll(scrubbed, secret, redacted)
	}
	if scrubbed != msg {
		return errors.New(scrubbed)
	}
	return err
}

// redacted replaces passwords, as url.URL.Redacted does.
const redacted = "xxxxx"

// Redact returns rawURL with its password, if any, replaced by "xxxxx". It
// never fails. A URL that does not parse, or has an '@' beyond its user
// information, is cut at its last '@' after the scheme, and everything
// between the user name and that '@' is replaced.
func Redact(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && !strings.Contains(u.Opaque+u.Path+u.RawQuery+u.Fragment, "@") {
		if _, ok := u.User.Password(); !ok {
			return rawURL // as written: nothing to hide
		}
		return u.Redacted()
	}
	scheme, rest := splitScheme(rawURL)
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return rawURL
	}
	user, _, hasPassword := strings.Cut(rest[:at], ":")
	if !hasPassword {
		return rawURL
	}
	return scheme + user + ":" + redacted + rest[at:]
}

// splitScheme splits "scheme://rest" into "scheme://" and rest.
func splitScheme(rawURL string) (scheme, rest string) {
	if i := strings.Index(rawURL, "://"); i >= 0 {
		return rawURL[:i+3], rawURL[i+3:]
	}
	return "", rawURL
}

// passwords returns the forms the password of rawURL may take in a
// message: as written, unescaped, and as url.Parse reads it.
func passwords(rawURL string) []string {
	var out []string
	add := func(p string) {
		if p != "" && p != redacted {
			out = append(out, p)
		}
	}
	_, rest := splitScheme(rawURL)
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if _, p, ok := strings.Cut(rest[:at], ":"); ok {
			add(p)
			if up, err := url.PathUnescape(p); err == nil && up != p {
				add(up)
			}
		}
	}
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			add(p)
		}
	}
	return out
}
