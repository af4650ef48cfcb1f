package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/e6coord/e6coord/client"
)

// connFlags are the flags that describe the connection to an engine, as a
// client.Config: --engine, --user, --catalog, --schema, --cluster, --redis
// and --password-file, and, for the commands that offer them, --tls, --ca
// and --server-name.
type connFlags struct {
	cfg             *client.Config
	pwFile          string
	withTLS, useTLS bool
	ca, serverName  string
}

// register registers the flags on fs, to fill cfg; engineHelp and
// redisHelp are the help of --engine and --redis, and withTLS adds the TLS
// flags.
func (f *connFlags) register(fs *flag.FlagSet, cfg *client.Config, engineHelp, redisHelp string, withTLS bool) {
	f.cfg, f.withTLS = cfg, withTLS
	fs.StringVar(&cfg.Addr, "engine", "", engineHelp)
	fs.StringVar(&cfg.User, "user", "", "engine user")
	fs.StringVar(&f.pwFile, "password-file", "", "a file holding the engine password (else E6_PASSWORD)")
	fs.StringVar(&cfg.Catalog, "catalog", "", "engine catalog")
	fs.StringVar(&cfg.Schema, "schema", "", "engine schema")
	fs.StringVar(&cfg.Cluster, "cluster", "", "cluster name, as the fleet's clients set it")
	fs.StringVar(&cfg.RedisURL, "redis", "", redisHelp)
	if withTLS {
		fs.BoolVar(&f.useTLS, "tls", false, "connect to the engine with TLS, verifying its certificate (against the system's roots unless --ca)")
		fs.StringVar(&f.ca, "ca", "", "with --tls: a PEM file of the CAs that verify the engine's certificate")
		fs.StringVar(&f.serverName, "server-name", "", "with --tls: the name to verify the engine's certificate against (default: the host of --engine)")
	}
}

// finish completes the Config once fs is parsed and applyEnv has run:
// the password ([enginePassword]), the Redis URL ([redisURL], which
// warns on log) and the TLS configuration.
func (f *connFlags) finish(log *slog.Logger) error {
	var err error
	if f.cfg.Password, err = enginePassword(f.pwFile); err != nil {
		return err
	}
	if f.cfg.RedisURL, err = redisURL(f.cfg.RedisURL, log); err != nil {
		return err
	}
	if f.withTLS {
		f.cfg.TLS, err = engineTLS(f.useTLS, f.ca, f.serverName)
	}
	return err
}

// maxCAFile bounds the --ca file read.
const maxCAFile = 4 << 20

// engineTLS returns the TLS configuration of --tls, --ca and --server-name:
// nil without --tls, which --ca and --server-name need.
func engineTLS(useTLS bool, caFile, serverName string) (*tls.Config, error) {
	if !useTLS {
		if caFile != "" || serverName != "" {
			return nil, errors.New("--ca and --server-name need --tls")
		}
		return nil, nil
	}
	c := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := readCA(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in the file", caFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// readCA returns the content of the --ca file, at most maxCAFile bytes: a
// device (/dev/zero) must not read forever.
func readCA(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--ca: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCAFile+1))
	if err != nil {
		return nil, fmt.Errorf("--ca: %w", err)
	}
	if len(b) > maxCAFile {
		return nil, fmt.Errorf("--ca %s: larger than %d MiB", path, maxCAFile>>20)
	}
	return b, nil
}
