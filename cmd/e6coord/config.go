package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Configuration of the commands.
//
// Every flag can also be set in the environment, as E6COORD_ followed by
// the flag's name upper-cased with '-' as '_' (E6COORD_ENGINE for
// --engine); a flag given on the command line wins.
//
// Secrets never need a flag: the engine password comes from the file named
// by --password-file, else from E6_PASSWORD, else from
// $CREDENTIALS_DIRECTORY/e6-password (systemd's LoadCredential); the Redis
// URL, which may hold a password, from --redis, else E6COORD_REDIS_URL,
// else the file named by E6COORD_REDIS_URL_FILE, else
// $CREDENTIALS_DIRECTORY/redis-url.

// envName returns the environment variable of flag name.
func envName(name string) string {
	return "E6COORD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// applyEnv sets every flag of fs that the command line left unset from its
// environment variable, when that is set. Call it after fs.Parse.
func applyEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || f.Name == "redis" { // the Redis URL: see redisURL
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", envName(f.Name), err))
			}
		}
	})
	return errors.Join(errs...)
}

// credential returns the content of systemd credential name, if the
// service has one ($CREDENTIALS_DIRECTORY/name).
func credential(name string) (string, bool, error) {
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	if dir == "" {
		return "", false, nil
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	s, err := readSecretFile(path)
	return s, err == nil, err
}

// readSecretFile returns the content of the file at path without its
// trailing newline. Errors name the file, never its content.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// enginePassword returns the engine password: from passwordFile if set,
// else E6_PASSWORD, else the credential e6-password, else "".
func enginePassword(passwordFile string) (string, error) {
	if passwordFile != "" {
		return readSecretFile(passwordFile)
	}
	if p, ok := os.LookupEnv("E6_PASSWORD"); ok {
		return p, nil
	}
	p, _, err := credential("e6-password")
	return p, err
}

// mayHoldSecret reports whether Redis URL u may hold a secret: it has user
// information or a password parameter, or it does not parse, so that
// nothing tells.
func mayHoldSecret(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" {
		return true
	}
	q := p.Query()
	return p.User != nil || q.Has("password") || q.Has("sentinel_password")
}

// redisURL returns the Redis URL: flagURL if set, else E6COORD_REDIS_URL,
// else the file named by E6COORD_REDIS_URL_FILE, else the credential
// redis-url, else "" (no Redis: the state stays in the process). A flagURL
// that may hold a secret ([mayHoldSecret]) is logged once at Warn, without the URL: the command line is readable by every user of
// the host.
func redisURL(flagURL string, log *slog.Logger) (string, error) {
	if flagURL != "" {
		if mayHoldSecret(flagURL) {
			log.Warn("--redis holds a secret that every user of this host can read in the process list: give the URL in E6COORD_REDIS_URL or in a file named by E6COORD_REDIS_URL_FILE")
		}
		return flagURL, nil
	}
	if u, ok := os.LookupEnv("E6COORD_REDIS_URL"); ok {
		return u, nil
	}
	if path := os.Getenv("E6COORD_REDIS_URL_FILE"); path != "" {
		return readSecretFile(path)
	}
	u, _, err := credential("redis-url")
	return u, err
}

// logFlags are the logging flags every command has.
type logFlags struct {
	level, format string
}

func (f *logFlags) register(fs *flag.FlagSet, level string) {
	fs.StringVar(&f.level, "log-level", level, "log level: debug, info, warn or error")
	fs.StringVar(&f.format, "log-format", "text", "log format: text or json")
}

// logger returns the commands' logger on stderr, and routes go-redis's own
// log lines into it (at Warn, or Info for those that report no failure, with
// component=go-redis), so that nothing else writes to stderr.
func (f *logFlags) logger(stderr io.Writer) (*slog.Logger, error) {
	l, err := newLogger(stderr, f.level, f.format)
	if err != nil {
		return nil, err
	}
	goredis.SetLogger(redisLogger{l.With("component", "go-redis")})
	return l, nil
}

// newLogger returns a logger on stderr at level, in format text or json.
func newLogger(stderr io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(stderr, opts)), nil
	}
	return nil, fmt.Errorf("bad --log-format %q: want text or json", format)
}

// redisLogger is go-redis's logger interface over slog.
type redisLogger struct{ l *slog.Logger }

// redisInfo start the formats of go-redis's lines that report what it
// found, not a failure: a Sentinel client prints "sentinel: new master"
// on every start. They are logged at Info, the others at Warn.
var redisInfo = []string{
	"sentinel: new master",
	"sentinel: selected addr",
	"sentinel: discovered new sentinel",
}

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	level := slog.LevelWarn
	for _, p := range redisInfo {
		if strings.HasPrefix(format, p) {
			level = slog.LevelInfo
		}
	}
	r.l.Log(ctx, level, strings.TrimSpace(fmt.Sprintf(format, v...)))
}
