package secrettest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestFindEveryForm(t *testing.T) {
	s := New()
	pw := s.A + "/" + s.B + "\"é"
	json, _ := json.Marshal(pw)
	forms := map[string]string{
		"as is":         pw,
		"lower case":    strings.ToLower(pw),
		"upper case":    strings.ToUpper(pw),
		"url-escaped":   url.QueryEscape(pw),
		"path-escaped":  url.PathEscape(pw),
		"go-quoted":     strconv.Quote(pw),
		"json":          string(json),
		"hex":           hex.EncodeToString([]byte(pw)),
		"upper hex":     strings.ToUpper(hex.EncodeToString([]byte(pw))),
		"base64":        base64.StdEncoding.EncodeToString([]byte(pw)),
		"base64, url":   base64.URLEncoding.EncodeToString([]byte(pw)),
		"base64 raw":    base64.RawStdEncoding.EncodeToString([]byte(pw)),
		"prefix 1, b64": base64.StdEncoding.EncodeToString([]byte("x" + pw)),
		"prefix 2, b64": base64.StdEncoding.EncodeToString([]byte("xy" + pw)),
	}
	for name, form := range forms {
		msg := fmt.Sprintf("before %s after", form)
		if _, ok := s.find(msg); !ok {
			t.Errorf("%s: not found in %q", name, s.Hide(msg))
		}
	}
}

func TestFindNothingElse(t *testing.T) {
	s, other := New(), New()
	for _, msg := range []string{"", "redis://u:xxxxx@h:1/0", other.A + other.B, s.A[:window-1]} {
		if form, ok := s.find(msg); ok {
			t.Errorf("found the secret (%s) in %q", form, msg)
		}
	}
}
