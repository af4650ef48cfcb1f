package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/internal/proxy"
)

const proxyUsage = `usage: e6coord proxy --engine host:port [flags]

Serves the engine's gRPC protocol (QueryEngineService and ClusterService)
on --listen and sends every call to the engine with the fleet's
coordination: any engine client (the published Python client, say) gets it
by connecting to the proxy instead of the engine. The client's strategy
header is ignored; its credentials are verified with the engine and kept in
memory only; it gets session and query ids of the proxy's own.

Session ids are sealed with a key: --session-key-file names a file of 64
hexadecimal digits (openssl rand -hex 32) that a restarted proxy reads
again, so that its clients' sessions go on (their credentials verified with
the engine again, their idle time counted from the restart). Without it the
key is random, the proxy warns at start, and a restart ends every session:
the published client's queries then fail until it connects again.

--listen is a loopback host:port (default 127.0.0.1:50051) or
unix:///path. Any other address needs TLS (--tls-cert and --tls-key), or
--insecure-listen to serve plaintext to the network, which it warns about. On
SIGINT or SIGTERM the proxy stops accepting connections and new queries,
lets the queries in flight finish for up to --drain, then clears what
remains on the engine and exits. --http-listen serves /healthz, /readyz
(ready once the engine's colour is known) and /metrics (the gRPC calls of
the clients and to the engine by method and code, and the coordinator's
figures).

--user (with the password in --password-file, E6_PASSWORD or
$CREDENTIALS_DIRECTORY/e6-password) is the credential of the proxy's own
probes of the colour, checked at start (a refusal ends the command);
without it, the first credential a client authenticates with is. The Redis URL comes from --redis, else
E6COORD_REDIS_URL, else the file named by E6COORD_REDIS_URL_FILE, else
$CREDENTIALS_DIRECTORY/redis-url (none: an in-process memory store). The
engine connection is plaintext unless --tls. Every other flag can also be
set as E6COORD_<FLAG>; the command line wins.

flags:
`

// defaultProxyListen is the default --listen of e6coord proxy.
const defaultProxyListen = "127.0.0.1:50051"

func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("e6coord proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), proxyUsage)
		fs.PrintDefaults()
	}
	var (
		o              proxy.Options
		cf             connFlags
		lf             logFlags
		listen         string
		insecure       bool
		drain          time.Duration
		certFile       string
		keyFile        string
		httpAddr       string
		sessionKeyFile string
	)
	lf.register(fs, "warn")
	cf.register(fs, &o.Client, "the engine's host:port (required)",
		"Redis URL shared with the fleet (prefer E6COORD_REDIS_URL: a flag shows in ps)", true)
	fs.StringVar(&listen, "listen", defaultProxyListen, "where clients connect: a loopback host:port, or unix:///path")
	fs.BoolVar(&insecure, "insecure-listen", false, "allow a --listen address other than loopback, served in plaintext")
	fs.StringVar(&httpAddr, "http-listen", "", "HTTP address of /healthz, /readyz and /metrics (default: none)")
	fs.StringVar(&certFile, "tls-cert", "", "serve clients over TLS with this PEM certificate (chain); needs --tls-key")
	fs.StringVar(&keyFile, "tls-key", "", "the PEM private key of --tls-cert")
	fs.DurationVar(&drain, "drain", 30*time.Second, "on SIGTERM, how long queries in flight may go on before they are cleared")
	fs.DurationVar(&o.SessionIdle, "session-idle", proxy.DefaultSessionIdle, "how long a client's session lives without a call")
	fs.StringVar(&sessionKeyFile, "session-key-file", "", "file of the key (64 hex digits) that seals session ids, so that they survive a restart (default: a random key per process)")
	fs.IntVar(&o.PrefetchBytes, "prefetch-bytes", client.DefaultPrefetchBytes, "bytes of a query's result read ahead before its first batch reaches the client (a result that fits is replayed on a switch); 0: none")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "e6coord proxy: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return errFailed
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	if o.Client.Addr == "" {
		fmt.Fprintln(stderr, "e6coord proxy: --engine is required")
		fs.Usage()
		return errFailed
	}
	if o.Client.Catalog != "" || o.Client.Schema != "" {
		return errors.New("--catalog and --schema do not apply to the proxy: its clients send their own")
	}
	if drain < 0 || o.SessionIdle <= 0 || o.PrefetchBytes < 0 {
		return errors.New("--drain and --prefetch-bytes must not be negative, and --session-idle must be positive")
	}
	if o.PrefetchBytes == 0 {
		o.PrefetchBytes = -1 // none
	}
	var err error
	if o.Logger, err = lf.logger(stderr); err != nil {
		return err
	}
	if err := cf.finish(o.Logger); err != nil {
		return err
	}
	if o.Client.User == "" {
		o.Client.Password = "" // no probe credential of its own
	}
	if sessionKeyFile != "" {
		if o.SessionKey, err = proxy.ReadSessionKey(sessionKeyFile); err != nil {
			return fmt.Errorf("--session-key-file: %w", err)
		}
	} else {
		o.Logger.Warn("no --session-key-file: a random key seals the session ids, so client sessions end when this process does")
	}
	if (certFile == "") != (keyFile == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	withTLS := certFile != ""
	if withTLS {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		o.ServerOptions = append(o.ServerOptions, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
		})))
	}
	network, address, err := proxyListen(listen, insecure || withTLS)
	if err != nil {
		return err
	}
	if network == "tcp" && !withTLS && !isLoopback(address) {
		o.Logger.Warn("serving the engine's protocol in plaintext beyond loopback (--insecure-listen): credentials cross the network unencrypted", "listen", address)
	}
	p, err := proxy.New(o)
	if err != nil {
		return err
	}
	if o.Client.User != "" {
		// The probe credential: a refusal is a configuration error; an
		// engine not reachable yet is not.
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := p.Conn().Connect(cctx)
		cancel()
		var se interface{ GRPCStatus() *status.Status }
		switch {
		case err == nil:
		case errors.As(err, &se) && se.GRPCStatus().Code() == codes.Unauthenticated:
			p.Close()
			return fmt.Errorf("--user %s: the engine refused the credential: %s", o.Client.User, se.GRPCStatus().Message())
		default:
			o.Logger.Warn("the engine did not answer the probe credential yet", "error", err)
		}
	}
	lis, err := net.Listen(network, address)
	if err != nil {
		p.Close()
		return fmt.Errorf("listen: %w", err)
	}
	if network == "unix" {
		fmt.Fprintf(stdout, "listening on unix://%s\n", lis.Addr())
	} else {
		fmt.Fprintf(stdout, "listening on %s\n", lis.Addr())
	}
	var hsrv *http.Server
	if httpAddr != "" {
		hln, err := net.Listen("tcp", httpAddr)
		if err != nil {
			lis.Close()
			p.Close()
			return fmt.Errorf("--http-listen: %w", err)
		}
		fmt.Fprintf(stdout, "http on %s\n", hln.Addr())
		hsrv = &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go hsrv.Serve(hln)
		defer hsrv.Close()
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(lis) }()
	select {
	case err := <-served:
		p.Close()
		return err
	case <-ctx.Done():
	}
	dctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if n := p.Drain(dctx); n > 0 {
		o.Logger.Warn("cleared queries still open at the end of the drain", "queries", n)
	}
	return <-served
}

// proxyListen returns the network and address of --listen: unix:///path,
// or a host:port that must be loopback unless beyond is allowed (TLS, or
// --insecure-listen).
func proxyListen(listen string, beyond bool) (network, address string, err error) {
	if path, ok := strings.CutPrefix(listen, "unix://"); ok {
		if path == "" {
			return "", "", errors.New("--listen unix:// needs a path")
		}
		if err := removeStaleSocket(path); err != nil {
			return "", "", err
		}
		return "unix", path, nil
	}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return "", "", fmt.Errorf("--listen %q: %w", listen, err)
	}
	if !isLoopback(listen) && !beyond {
		return "", "", fmt.Errorf("--listen %s is not a loopback address: the proxy would serve credentials in plaintext to the network; use --tls-cert and --tls-key, a loopback address or unix:///path, or --insecure-listen", listen)
	}
	return "tcp", listen, nil
}

// removeStaleSocket removes the socket file at path that a proxy killed
// without its cleanup left behind, so that the next one can listen there.
// A socket that still accepts connections belongs to a live proxy: an
// error. Anything else at path is left for the listen to fail on.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("--listen unix://%s: another process serves that socket", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("--listen unix://%s: remove the stale socket: %w", path, err)
	}
	return nil
}

// isLoopback reports whether host:port names a loopback address:
// localhost or a loopback IP.
func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
