package main

import (
	"testing"

	"github.com/e6coord/e6coord/cache"
	redisstore "github.com/e6coord/e6coord/cache/redis"
)

// status reads the record under the key prefix of its Redis URL: a record
// written through ?prefix=tenant-a shows with that URL, and not with the
// default prefix nor with another.
func TestStatusURLPrefix(t *testing.T) {
	cleanEnv(t)
	rs, _ := startRedis(t)
	tenant, err := redisstore.Open(rs.URL()+"?prefix=tenant-a", redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tenant.Close()
	scope := cache.Scope{Engine: "e:1"}
	if _, err := tenant.CompareAndSwap(t.Context(), scope, 0, cache.State{Active: cache.Green, Generation: 1}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		url, want string
	}{
		{rs.URL() + "?prefix=tenant-a", "green"},
		{rs.URL(), ""},
		{rs.URL() + "?prefix=tenant-b", ""},
	} {
		_, st, errOut := statusJSON(t, "--engine", "e:1", "--redis", tt.url)
		if st.Active != tt.want {
			t.Errorf("status --redis %s: active %q, want %q; stderr:\n%s", tt.url, st.Active, tt.want, errOut)
		}
	}
}
