package sqldriver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	redisstore "github.com/e6coord/e6coord/cache/redis"
	"github.com/e6coord/e6coord/client"
)

// Config configures a [Connector]: the client's [client.Config], and the
// driver's own Secure and Decimal. Its DSN fields are those [ParseDSN]
// reads and [Config.FormatDSN] writes: of the client's, Addr (required: a
// host name, an IPv4 address or a bracketed IPv6 address, then an
// optional port), User, Password, Catalog, Schema, Cluster, RedisURL and
// PrefetchBytes. The client's other fields (TLS, used instead of Secure
// when set; Store, Coordination, NoResume, NoReplay, DialOptions, Logger)
// have no place in a DSN. Zero values mean the documented defaults.
//
// A Config prints (%v, %+v, %#v, %s, slog) as its DSN with the password,
// and the Redis URL's password and parameter values, shown as "xxxxx".
type Config struct {
	client.Config

	// Secure connects with TLS, verifying the engine's certificate
	// against the system's roots, unless TLS is set. Default false:
	// plaintext.
	Secure bool
	// Decimal is the Go type of DECIMAL128 values. Default
	// [DecimalString].
	Decimal DecimalMode
}

// scheme begins every DSN.
const scheme = "e6data://"

// redacted stands for a secret wherever a Config is shown.
const redacted = "xxxxx"

// ParseDSN parses a DSN:
//
//	e6data://[user[:password]@]host[:port][/catalog[/schema]][?option=value&...]
//
// The user, password, catalog and schema are percent-encoded where they
// hold anything but letters, digits and "-._~" (a '/', '?', '#', '%' or
// ':' in a password must be); option values are query-escaped (a '+' is a
// space). The options are
//
//	cluster=NAME              Config.Cluster
//	secure=true|false         Config.Secure
//	redis=URL                 Config.RedisURL, query-escaped (url.QueryEscape)
//	decimal=string|rat|float64  Config.Decimal
//	prefetch_bytes=N          Config.PrefetchBytes, a positive number
//
// An option given twice, an unknown option or a malformed value is an
// error. No error holds any part of the DSN but the name of a known
// option: a misplaced character in a password cannot end up in an error.
func ParseDSN(dsn string) (Config, error) {
	var cfg Config
	if len(dsn) < len(scheme) || !strings.EqualFold(dsn[:len(scheme)], scheme) {
		return cfg, errors.New("sqldriver: malformed DSN: it must begin with e6data://")
	}
	rest := dsn[len(scheme):]
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		return cfg, errors.New("sqldriver: malformed DSN: a '#' must be escaped as %23")
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, rest := rest[:end], rest[end:]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		info := authority[:at]
		authority = authority[at+1:]
		user, password, hasPassword := strings.Cut(info, ":")
		var err error
		if cfg.User, err = unescape(user); err != nil {
			return Config{}, errors.New("sqldriver: malformed DSN: bad percent-encoding in the user name")
		}
		if hasPassword {
			if cfg.Password, err = unescape(password); err != nil {
				return Config{}, errors.New("sqldriver: malformed DSN: bad percent-encoding in the password")
			}
		}
	}
	if err := checkAddr(authority); err != nil {
		return Config{}, fmt.Errorf("sqldriver: malformed DSN: %w (escape '/', '?', '#' and '%%' in the password)", err)
	}
	cfg.Addr = authority

	path, query, hasQuery := strings.Cut(rest, "?")
	if path != "" && path != "/" {
		segs := strings.Split(path[1:], "/")
		if len(segs) > 2 {
			return Config{}, errors.New("sqldriver: malformed DSN: the path has more than /catalog/schema")
		}
		var err error
		if cfg.Catalog, err = unescape(segs[0]); err != nil {
			return Config{}, errors.New("sqldriver: malformed DSN: bad percent-encoding in the catalog")
		}
		if len(segs) == 2 {
			if cfg.Schema, err = unescape(segs[1]); err != nil {
				return Config{}, errors.New("sqldriver: malformed DSN: bad percent-encoding in the schema")
			}
		}
	}
	if hasQuery {
		if err := cfg.parseOptions(query); err != nil {
			return Config{}, err
		}
	}
	return cfg, nil
}

// parseOptions sets the options of a DSN's query.
func (cfg *Config) parseOptions(query string) error {
	seen := make(map[string]bool)
	n := 0
	for kv := range strings.SplitSeq(query, "&") {
		if kv == "" {
			continue
		}
		n++
		name, raw, _ := strings.Cut(kv, "=")
		if !knownOption(name) {
			// The name is not shown: text in its place may be a piece of
			// a secret, after a misplaced '&' or '?'.
			return fmt.Errorf("sqldriver: malformed DSN: option %d is unknown (the options are cluster, secure, redis, decimal and prefetch_bytes)", n)
		}
		if seen[name] {
			return fmt.Errorf("sqldriver: malformed DSN: option %s given twice", name)
		}
		seen[name] = true
		v, err := url.QueryUnescape(raw)
		if err != nil {
			return fmt.Errorf("sqldriver: malformed DSN: bad escaping in the value of %s", name)
		}
		switch name {
		case "cluster":
			cfg.Cluster = v
		case "secure":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return errors.New("sqldriver: malformed DSN: secure must be true or false")
			}
			cfg.Secure = b
		case "redis":
			cfg.RedisURL = v
		case "decimal":
			m, err := parseDecimalMode(v)
			if err != nil {
				return err
			}
			cfg.Decimal = m
		case "prefetch_bytes":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return errors.New("sqldriver: malformed DSN: prefetch_bytes must be a positive number")
			}
			cfg.PrefetchBytes = n
		}
	}
	return nil
}

var options = []string{"cluster", "secure", "redis", "decimal", "prefetch_bytes"}

func knownOption(name string) bool {
	for _, o := range options {
		if name == o {
			return true
		}
	}
	return false
}

// checkAddr checks a host[:port]: a host name (letters, digits, '.', '-',
// '_'), an IPv4 address, or an IPv6 address in brackets, then an optional
// port of 1 to 65535.
func checkAddr(addr string) error {
	if addr == "" {
		return errors.New("no engine host")
	}
	host, port := addr, ""
	if strings.HasPrefix(addr, "[") {
		end := strings.IndexByte(addr, ']')
		if end < 0 {
			return errors.New("unclosed '[' in the engine host")
		}
		host, port = addr[1:end], addr[end+1:]
		if host == "" || strings.Trim(host, "0123456789abcdefABCDEF:.") != "" || !strings.Contains(host, ":") {
			return errors.New("malformed IPv6 address of the engine")
		}
		if port != "" {
			if port[0] != ':' {
				return errors.New("malformed engine address")
			}
			port = port[1:]
			if port == "" {
				return errors.New("empty port")
			}
		}
	} else {
		if i := strings.LastIndexByte(addr, ':'); i >= 0 {
			host, port = addr[:i], addr[i+1:]
			if port == "" {
				return errors.New("empty port")
			}
		}
		if host == "" {
			return errors.New("no engine host")
		}
		for _, c := range host {
			if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '.' && c != '-' && c != '_' {
				return errors.New("malformed engine host")
			}
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '+' || port[0] == '0' {
			return errors.New("invalid port")
		}
	}
	return nil
}

// FormatDSN returns the DSN of cfg's DSN fields, which [ParseDSN] parses
// back to them. It holds the password: show [Config.String] instead.
func (cfg Config) FormatDSN() string { return cfg.format(false) }

// String returns the DSN with the password, and the Redis URL's password
// and parameter values, shown as "xxxxx".
func (cfg Config) String() string { return cfg.format(true) }

// GoString is String, so that %#v hides the secrets too.
func (cfg Config) GoString() string { return "sqldriver.Config(" + cfg.String() + ")" }

// Format prints the redacted DSN for every verb: %v, %+v, %s and %q
// print String, %#v GoString.
func (cfg Config) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, cfg.GoString())
	case verb == 'q':
		fmt.Fprint(f, strconv.Quote(cfg.String()))
	default:
		fmt.Fprint(f, cfg.String())
	}
}

// LogValue is the redacted DSN, for log/slog.
func (cfg Config) LogValue() slog.Value { return slog.StringValue(cfg.String()) }

func (cfg Config) format(redact bool) string {
	var b strings.Builder
	b.WriteString(scheme)
	if cfg.User != "" || cfg.Password != "" {
		b.WriteString(escape(cfg.User))
		if cfg.Password != "" {
			b.WriteByte(':')
			if redact {
				b.WriteString(redacted)
			} else {
				b.WriteString(escape(cfg.Password))
			}
		}
		b.WriteByte('@')
	}
	b.WriteString(cfg.Addr)
	if cfg.Catalog != "" || cfg.Schema != "" {
		b.WriteString("/" + escape(cfg.Catalog))
		if cfg.Schema != "" {
			b.WriteString("/" + escape(cfg.Schema))
		}
	}
	sep := "?"
	opt := func(name, value string) {
		b.WriteString(sep + name + "=" + value)
		sep = "&"
	}
	if cfg.Cluster != "" {
		opt("cluster", escape(cfg.Cluster))
	}
	if cfg.Secure {
		opt("secure", "true")
	}
	if cfg.RedisURL != "" {
		if redact {
			opt("redis", escape(redisstore.Redact(cfg.RedisURL)))
		} else {
			opt("redis", escape(cfg.RedisURL))
		}
	}
	if cfg.Decimal != DecimalString {
		opt("decimal", cfg.Decimal.String())
	}
	if cfg.PrefetchBytes != 0 {
		opt("prefetch_bytes", strconv.Itoa(cfg.PrefetchBytes))
	}
	return b.String()
}

// escape percent-encodes every byte of s but letters, digits and "-._~",
// which every part of a DSN reads back unchanged.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// unescape decodes %XX escapes; every other byte stands for itself.
func unescape(s string) (string, error) {
	return url.PathUnescape(s)
}
