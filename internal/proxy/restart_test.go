package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/e6coord/e6coord/client/e6xpb"
	"github.com/e6coord/e6coord/client/enginetest"
)

func newKey(t testing.TB) []byte {
	k := make([]byte, SessionKeySize)
	rand.Read(k)
	return k
}

func withKey(k []byte) func(*Options) { return func(o *Options) { o.SessionKey = k } }

// authenticates counts the engine's authenticate calls.
func authenticates(eng *enginetest.Server) int {
	n := 0
	for _, c := range eng.Log() {
		if c.Method == e6xpb.QueryEngineService_Authenticate_FullMethodName {
			n++
		}
	}
	return n
}

// TestSealedSessionAfterRestart: a session id given by a proxy serves
// the client's next calls (a catalog call, then whole queries with the
// same id) through a new Proxy value with the same session key, which
// verifies the credential with the engine again; alice's id, learnt,
// still cannot reach bob's query.
func TestSealedSessionAfterRestart(t *testing.T) {
	eng := newEngine(t, enginetest.Options{})
	key := newKey(t)
	before, addr := startProxy(t, eng, withKey(key))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	n := &naive{stub: e6xpb.NewQueryEngineServiceClient(dial(t, addr)), user: "alice", password: "a"}
	if rows, err := n.query(ctx, sqlRows); err != nil || rows != 300 {
		t.Fatalf("before the restart: %d rows, %v", rows, err)
	}
	sid := n.sid
	if strings.Contains(sid, "alice") {
		t.Errorf("the session id %q shows its user", sid)
	}
	before.Close()

	after, addr2 := startProxy(t, eng, withKey(key))
	auths := authenticates(eng)
	stub := e6xpb.NewQueryEngineServiceClient(dial(t, addr2))
	if _, err := stub.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: sid, Catalog: enginetest.Catalog}); err != nil {
		t.Fatalf("the first call after the restart: %v", err)
	}
	if got := authenticates(eng) - auths; got == 0 {
		t.Errorf("the new proxy served a session without verifying its credential with the engine")
	}
	n.stub = stub
	for i := range 3 {
		if rows, err := n.query(ctx, sqlRows); err != nil || rows != 300 {
			t.Fatalf("query %d after the restart: %d rows, %v", i, rows, err)
		}
	}
	if n.sid != sid {
		t.Errorf("the client authenticated again")
	}
	after.sessions.mu.Lock()
	sessions := len(after.sessions.sessions)
	after.sessions.mu.Unlock()
	if sessions != 1 {
		t.Errorf("the new proxy holds %d sessions, want the 1 it learnt", sessions)
	}

	bob, err := stub.Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "bob", Password: "b"})
	if err != nil {
		t.Fatal(err)
	}
	prep, err := stub.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: bob.GetSessionId(), Schema: enginetest.Schema, Catalog: enginetest.Catalog, QueryString: "SELECT 1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stub.ExecuteStatementV2(ctx, &e6xpb.ExecuteStatementV2Request{EngineIP: prep.GetEngineIP(), SessionId: sid, QueryId: prep.GetQueryId()})
	wantCode(t, "alice's learnt session executes bob's query", err, codes.NotFound, "query not found")
}

// TestSealedSessionRefusedAfterRestart: a credential the engine refuses
// by the time of the restart gets the engine's error, and no session.
func TestSealedSessionRefusedAfterRestart(t *testing.T) {
	key := newKey(t)
	old := newEngine(t, enginetest.Options{User: "alice", Password: "old"})
	before, addr := startProxy(t, old, withKey(key))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	resp, err := e6xpb.NewQueryEngineServiceClient(dial(t, addr)).Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "old"})
	if err != nil {
		t.Fatal(err)
	}
	before.Close()

	changed := newEngine(t, enginetest.Options{User: "alice", Password: "new"})
	after, addr2 := startProxy(t, changed, withKey(key))
	stub := e6xpb.NewQueryEngineServiceClient(dial(t, addr2))
	for range 2 {
		_, err = stub.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: resp.GetSessionId(), Catalog: enginetest.Catalog})
		wantCode(t, "a sealed session whose credential the engine now refuses", err, codes.Unauthenticated, "invalid credentials")
	}
	after.sessions.mu.Lock()
	sessions, creds := len(after.sessions.sessions), len(after.sessions.creds)
	after.sessions.mu.Unlock()
	if sessions != 0 || creds != 0 {
		t.Errorf("the proxy keeps %d sessions and %d credentials for a refused credential", sessions, creds)
	}
}

// TestSealedSessionOnlyWithItsKey: after a restart, a session id gets
// nothing from a proxy with another key, or with no key (a random one);
// nor does an id with any byte altered, or a made-up one of the right
// form.
func TestSealedSessionOnlyWithItsKey(t *testing.T) {
	eng := newEngine(t, enginetest.Options{})
	key := newKey(t)
	before, addr := startProxy(t, eng, withKey(key))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	resp, err := e6xpb.NewQueryEngineServiceClient(dial(t, addr)).Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
	if err != nil {
		t.Fatal(err)
	}
	sid := resp.GetSessionId()
	before.Close()

	raw, err := base64.RawURLEncoding.DecodeString(sid)
	if err != nil {
		t.Fatalf("session id %q: %v", sid, err)
	}
	if len(raw) < 12+16+16+16 {
		t.Errorf("session id of %d bytes: too short for a nonce, 128 random bits and a tag", len(raw))
	}
	ids := map[string]string{}
	for _, i := range []int{0, 11, 12, len(raw) / 2, len(raw) - 1} {
		b := bytes.Clone(raw)
		b[i] ^= 1
		ids[fmt.Sprintf("altered at byte %d", i)] = base64.RawURLEncoding.EncodeToString(b)
	}
	madeUp := make([]byte, len(raw))
	rand.Read(madeUp)
	ids["made up"] = base64.RawURLEncoding.EncodeToString(madeUp)
	ids["truncated"] = sid[:len(sid)-4]

	with := func(what string, adjust ...func(*Options)) *Proxy {
		p, a := startProxy(t, eng, adjust...)
		stub := e6xpb.NewQueryEngineServiceClient(dial(t, a))
		_, err := stub.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: sid, Catalog: enginetest.Catalog})
		wantCode(t, what, err, codes.Internal, "Access denied")
		return p
	}
	with("another key", withKey(newKey(t)))
	with("no key")
	p, a := startProxy(t, eng, withKey(key))
	stub := e6xpb.NewQueryEngineServiceClient(dial(t, a))
	auths := authenticates(eng)
	for what, id := range ids {
		_, err := stub.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: id, Catalog: enginetest.Catalog})
		wantCode(t, what, err, codes.Internal, "Access denied")
	}
	if got := authenticates(eng) - auths; got != 0 {
		t.Errorf("ids that do not open made %d authenticates on the engine", got)
	}
	p.sessions.mu.Lock()
	defer p.sessions.mu.Unlock()
	if len(p.sessions.sessions) != 0 {
		t.Errorf("the proxy holds %d sessions", len(p.sessions.sessions))
	}
}

// TestLearntSessionExpires: a session learnt after a restart is idle from
// the restart: it lives while in use, expires after SessionIdle without a
// call (its queries cleared), and is not learnt again.
func TestLearntSessionExpires(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func(o *Options) {
		o.SessionIdle = time.Minute
		o.Now = func() time.Time { return time.Unix(0, now.Load()) }
	}
	eng := newEngine(t, enginetest.Options{})
	key := newKey(t)
	before, addr := startProxy(t, eng, withKey(key), clock)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	resp, err := e6xpb.NewQueryEngineServiceClient(dial(t, addr)).Authenticate(ctx, &e6xpb.AuthenticateRequest{User: "alice", Password: "a"})
	if err != nil {
		t.Fatal(err)
	}
	sid := resp.GetSessionId()
	before.Close()
	now.Add(int64(10 * time.Minute)) // the restart comes long after: idle counts from it

	p, addr2 := startProxy(t, eng, withKey(key), clock)
	stub := e6xpb.NewQueryEngineServiceClient(dial(t, addr2))
	if _, err := stub.PrepareStatementV2(ctx, &e6xpb.PrepareStatementV2Request{SessionId: sid, Schema: enginetest.Schema, Catalog: enginetest.Catalog, QueryString: "SELECT 1"}); err != nil {
		t.Fatalf("the first call after the restart: %v", err)
	}
	for range 3 {
		now.Add(int64(40 * time.Second))
		if _, err := stub.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: sid, Catalog: enginetest.Catalog}); err != nil {
			t.Fatalf("a learnt session in use: %v", err)
		}
	}
	now.Add(int64(61 * time.Second))
	p.expireSessions()
	if got := p.OpenQueries(); got != 0 {
		t.Errorf("%d queries open after their learnt session expired", got)
	}
	for range 2 {
		_, err = stub.GetSchemaNamesV2(ctx, &e6xpb.GetSchemaNamesV2Request{SessionId: sid, Catalog: enginetest.Catalog})
		wantCode(t, "an expired learnt session", err, codes.Internal, "Access denied")
	}
}

// TestSealer: ids open with their key only, tell the sealer's own from
// another's, carry every credential field, and differ each time.
func TestSealer(t *testing.T) {
	key := newKey(t)
	a, err := newSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newSealer(key)
	other, _ := newSealer(newKey(t))
	cred := credKey{user: "alice", password: "p\x00ss word é", impersonate: "bob"}
	id := a.seal(cred)
	if id == a.seal(cred) {
		t.Errorf("two seals of one credential are equal")
	}
	for _, part := range []string{cred.user, cred.password, cred.impersonate} {
		if strings.Contains(id, part) || strings.Contains(id, base64.RawURLEncoding.EncodeToString([]byte(part))) {
			t.Errorf("the id %q shows %q", id, part)
		}
	}
	if got, own, err := a.open(id); err != nil || !own || got != cred {
		t.Errorf("open by its sealer: %v own=%v err=%v", got == cred, own, err)
	}
	if got, own, err := b.open(id); err != nil || own || got != cred {
		t.Errorf("open by another sealer with the key: %v own=%v err=%v", got == cred, own, err)
	}
	if _, _, err := other.open(id); !errors.Is(err, errNotSealed) {
		t.Errorf("open with another key: %v", err)
	}
	for _, bad := range []string{"", "!!!", "00112233445566778899aabbccddeeff", id + "A"} {
		if _, _, err := a.open(bad); !errors.Is(err, errNotSealed) {
			t.Errorf("open %q: %v", bad, err)
		}
	}
	if _, err := newSealer(make([]byte, 16)); err == nil {
		t.Errorf("a 16-byte key was taken")
	}
}

// TestReadSessionKey: 64 hex digits, with white space around, make a key;
// anything else is a clear error that does not show the file's content.
func TestReadSessionKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	hexKey := strings.Repeat("0f", SessionKeySize)
	key, err := ReadSessionKey(write("good", "  "+hexKey+"\n"))
	if err != nil || len(key) != SessionKeySize || key[0] != 0x0f {
		t.Errorf("good key: %x, %v", key, err)
	}
	for name, content := range map[string]string{
		"short":  strings.Repeat("ab", 16),
		"nothex": strings.Repeat("zq", SessionKeySize),
		"empty":  "",
	} {
		_, err := ReadSessionKey(write(name, content))
		if err == nil {
			t.Errorf("%s: taken", name)
		} else if content != "" && strings.Contains(err.Error(), content[:8]) {
			t.Errorf("%s: the error %q shows the content", name, err)
		}
	}
	if _, err := ReadSessionKey(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("a missing file: no error")
	}
}
