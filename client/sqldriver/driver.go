package sqldriver

import (
	"context"
	"crypto/tls"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/e6coord/e6coord/client"
)

// DriverName is the name the driver is registered under.
const DriverName = "e6data"

func init() { sql.Register(DriverName, Driver{}) }

// Driver is the database/sql driver, registered as "e6data".
type Driver struct{}

var (
	_ driver.Driver        = Driver{}
	_ driver.DriverContext = Driver{}
	_ driver.Connector     = (*Connector)(nil)
	_ io.Closer            = (*Connector)(nil)
)

// OpenConnector parses dsn ([ParseDSN]) and returns a [Connector] for it:
// sql.Open calls it once per sql.DB, whose conns then share its client.
func (Driver) OpenConnector(dsn string) (driver.Connector, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return NewConnector(cfg)
}

// Open returns a conn with a client of its own, which its Close closes.
// database/sql calls OpenConnector instead; Open is for code that uses
// the driver directly.
func (d Driver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	cn, err := c.Connect(context.Background())
	if err != nil {
		c.(*Connector).Close()
		return nil, err
	}
	cn.(*conn).owned = true
	return cn, nil
}

// Connector opens the conns of one sql.DB (sql.OpenDB(connector)). Every
// conn shares its [client.Conn], and with it one coordinator, one gRPC
// connection and one session per colour: the conns learn of a switch of
// colour together, and open no session of their own. Close (which
// sql.DB's Close calls) closes them. A Connector is safe for concurrent use.
type Connector struct {
	cfg    Config
	client *client.Conn
	closed atomic.Bool
	once   sync.Once
}

// NewConnector returns a Connector for cfg. Like client.Open, it does no
// I/O: the first query (or Ping) authenticates, and connection problems
// surface there. It fails for a Config it cannot use, with an error that
// holds no secret.
func NewConnector(cfg Config) (*Connector, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	ccfg := cfg.Config
	if ccfg.TLS == nil && cfg.Secure {
		ccfg.TLS = &tls.Config{ServerName: tlsHost(cfg.Addr), MinVersion: tls.VersionTLS12}
	}
	cc, err := client.Open(ccfg)
	if err != nil {
		return nil, fmt.Errorf("sqldriver: %w", err)
	}
	return &Connector{cfg: cfg, client: cc}, nil
}

// tlsHost is the host of addr, without its port or brackets.
func tlsHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return strings.Trim(addr, "[]")
}

// check reports what makes cfg unusable.
func (cfg Config) check() error {
	if err := checkAddr(cfg.Addr); err != nil {
		return fmt.Errorf("sqldriver: %w", err)
	}
	if !cfg.Decimal.valid() {
		return fmt.Errorf("sqldriver: invalid decimal mode %d", int(cfg.Decimal))
	}
	if cfg.PrefetchBytes < 0 {
		return errors.New("sqldriver: negative PrefetchBytes")
	}
	return nil
}

// Connect returns a conn on the shared client. It does no I/O.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.closed.Load() {
		return nil, errConnectorClosed
	}
	return &conn{c: c}, nil
}

// Driver returns the [Driver].
func (c *Connector) Driver() driver.Driver { return Driver{} }

// Client returns the client the conns share, for its coordinator and
// statistics.
func (c *Connector) Client() *client.Conn { return c.client }

// Config returns the Connector's configuration.
func (c *Connector) Config() Config { return c.cfg }

// Close closes the shared client: its pins are released, its connection
// and its store closed. Conns used afterwards fail.
func (c *Connector) Close() error {
	var err error
	c.once.Do(func() {
		c.closed.Store(true)
		err = c.client.Close()
	})
	return err
}

// String describes the Connector with its Config redacted.
func (c *Connector) String() string { return "sqldriver.Connector(" + c.cfg.String() + ")" }

// Format prints String for every verb, so that no secret is printed.
func (c *Connector) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

var errConnectorClosed = errors.New("sqldriver: the connector is closed")
