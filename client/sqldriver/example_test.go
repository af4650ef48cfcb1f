package sqldriver_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"math/big"
	"time"

	"github.com/e6coord/e6coord/client"
	"github.com/e6coord/e6coord/client/enginetest"
	"github.com/e6coord/e6coord/client/sqldriver"
)

// sql.Open with a DSN: the conns of the DB share one client, which carries
// the engine's live colour on every call.
func Example() {
	engine, err := enginetest.NewServer(enginetest.Options{Start: enginetest.Green, User: "alice", Password: "s3cret"})
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()

	// e6data://user:password@host:port/catalog/schema?cluster=NAME&secure=true&redis=...
	db, err := sql.Open("e6data", "e6data://alice:s3cret@"+engine.Addr()+"/default/demo?cluster=prod")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ctx := context.Background()
	rows, err := db.QueryContext(ctx, "SELECT * FROM demo.numbers LIMIT 3")
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id    int64
			name  string
			ratio float64
			even  bool
		)
		if err := rows.Scan(&id, &name, &ratio, &even); err != nil {
			log.Fatal(err)
		}
		fmt.Println(id, name, ratio, even)
	}
	if err := rows.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 0 n0000 0 true
	// 1 n0001 0.25 false
	// 2 n0002 0.5 true
}

// Arguments take ? placeholders; DECIMAL128 values scan exactly into a
// string, a sqldriver.Decimal or, with decimal=rat, a *big.Rat; NULL into
// a sql.Null type or a pointer; times are UTC.
func Example_values() {
	engine, err := enginetest.NewServer(enginetest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()
	c, err := sqldriver.NewConnector(sqldriver.Config{Config: client.Config{Addr: engine.Addr()}, Decimal: sqldriver.DecimalRat})
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(c) // db.Close closes c
	defer db.Close()

	var (
		name  string
		price *big.Rat
		note  sql.NullString
		at    time.Time
	)
	when := time.Date(2026, 12, 1, 12, 30, 0, 0, time.FixedZone("CET", 3600))
	err = db.QueryRow("SELECT ?, 12345678901234567890.25, ?, ?", "it's", nil, when).Scan(&name, &price, &note, &at)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(name, price.FloatString(2), note.Valid, at)
	// Output: it's 12345678901234567890.25 false 2026-12-01 11:30:00 +0000 UTC
}

// A Config builds the DSN, and prints it with its secrets hidden.
func ExampleConfig_FormatDSN() {
	cfg := sqldriver.Config{
		Config: client.Config{
			Addr: "engine.example.com:443", User: "alice", Password: "p@ss/word",
			Catalog: "main", Schema: "sales", Cluster: "prod",
			RedisURL: "rediss://:r3dis@redis.internal:6380/0",
		},
		Secure: true,
	}
	fmt.Println(cfg.FormatDSN())
	fmt.Println(cfg)
	// Output:
	// e6data://alice:p%40ss%2Fword@engine.example.com:443/main/sales?cluster=prod&secure=true&redis=rediss%3A%2F%2F%3Ar3dis%40redis.internal%3A6380%2F0
	// e6data://alice:xxxxx@engine.example.com:443/main/sales?cluster=prod&secure=true&redis=rediss%3A%2F%2Fxxxxx%40redis.internal%3A6380%2F0
}
