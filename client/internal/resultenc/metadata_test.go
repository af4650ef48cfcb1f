package resultenc

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestMetadataRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rows int64
		cols []Column
	}{
		{"no columns", 0, nil},
		{"one long", 1, []Column{{Name: "1", Type: "LONG"}}},
		{"negative rows", -1, []Column{{Name: "x", Type: "STRING"}}},
		{"all fields", 1 << 40, []Column{
			{Name: "id", Type: "LONG"},
			{Name: "when", Type: "DATETIME", Zone: "Asia/Kolkata", Format: "yyyy-MM-dd HH:mm:ss"},
			{Name: "naïve ☃ 😀", Type: "STRING"},
			{Name: "", Type: "NULL", Zone: "", Format: ""},
		}},
		{"longest string", 3, []Column{{Name: strings.Repeat("n", 65535), Type: "LONG"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeMetadata(tt.rows, tt.cols)
			if err != nil {
				t.Fatalf("EncodeMetadata: %v", err)
			}
			rows, cols, err := DecodeMetadata(b)
			if err != nil {
				t.Fatalf("DecodeMetadata: %v", err)
			}
			if rows != tt.rows {
				t.Errorf("rows = %d, want %d", rows, tt.rows)
			}
			if diff := cmp.Diff(tt.cols, cols, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("columns mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMetadataLayout(t *testing.T) {
	got, err := EncodeMetadata(258, []Column{{Name: "id", Type: "LONG", Zone: "Z", Format: ""}})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0, 0, 0, 0, 0, 0, 1, 2, // int64 row count 258
		0, 0, 0, 1, // int32 column count
		0, 2, 'i', 'd',
		0, 4, 'L', 'O', 'N', 'G',
		0, 1, 'Z',
		0, 0,
	}
	if !bytes.Equal(got, want) {
		t.Errorf("EncodeMetadata = % x, want % x", got, want)
	}
}

func TestDecodeMetadataJavaModifiedUTF8(t *testing.T) {
	// DataOutputStream.writeUTF("a\u0000😀"): NUL as C0 80, U+1F600 as the
	// surrogate pair D83D DE00, each in three bytes.
	name := []byte{'a', 0xC0, 0x80, 0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80}
	b := []byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, byte(len(name))}
	b = append(b, name...)
	b = append(b, 0, 4, 'L', 'O', 'N', 'G', 0, 0, 0, 0)
	_, cols, err := DecodeMetadata(b)
	if err != nil {
		t.Fatalf("DecodeMetadata: %v", err)
	}
	if got, want := cols[0].Name, "a\x00😀"; got != want {
		t.Errorf("name = %q, want %q", got, want)
	}
}

func TestDecodeMetadataMalformed(t *testing.T) {
	valid, err := EncodeMetadata(5, []Column{{Name: "a", Type: "LONG"}, {Name: "b", Type: "STRING", Zone: "UTC", Format: "f"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(valid) {
		if _, _, err := DecodeMetadata(valid[:i]); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeMetadata(first %d of %d bytes) error = %v, want ErrMalformed", i, len(valid), err)
		}
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"negative count", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF}},
		{"huge count", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"string past end", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, 0xFF, 'a', 0, 0, 0, 0, 0, 0}},
		{"invalid utf-8", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0xFF, 0, 0, 0, 0, 0, 0}},
		{"count smaller than the columns", append(bytes.Clone(valid[:11]), append([]byte{1}, valid[12:]...)...)},
		{"rows without columns", []byte{0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0}},
		{"trailing byte", append(bytes.Clone(valid), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := DecodeMetadata(tt.b); !errors.Is(err, ErrMalformed) {
				t.Errorf("DecodeMetadata error = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestDecodeMetadataUnknownType(t *testing.T) {
	b, err := EncodeMetadata(1, []Column{{Name: "a", Type: "LONG"}, {Name: "b", Type: "long"}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = DecodeMetadata(b)
	var e *Error
	if !errors.Is(err, ErrUnsupported) || !errors.As(err, &e) || e.Column != 1 {
		t.Errorf("DecodeMetadata error = %v, want an *Error at column 1 wrapping ErrUnsupported", err)
	}
}

func TestEncodeMetadataErrors(t *testing.T) {
	tests := []struct {
		name string
		col  Column
	}{
		{"too long", Column{Name: strings.Repeat("n", 65536)}},
		{"invalid utf-8", Column{Type: "\xff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := EncodeMetadata(1, []Column{tt.col}); err == nil {
				t.Error("EncodeMetadata succeeded, want an error")
			}
		})
	}
}

func FuzzDecodeMetadata(f *testing.F) {
	every := make([]Column, 0, len(typeNames))
	for _, n := range typeNames {
		every = append(every, Column{Name: "c_" + strings.ToLower(n), Type: n})
	}
	for _, cols := range [][]Column{nil, {{Name: "id", Type: "LONG"}}, {{Name: "t", Type: "DATETIME", Zone: "UTC", Format: "yyyy"}}, every,
		{{Name: "naïve ☃ 😀", Type: "STRING", Zone: "Asia/Kolkata", Format: "yyyy-MM-dd HH:mm:ss"}}} {
		b, err := EncodeMetadata(int64(len(cols)), cols)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, cols, err := DecodeMetadata(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrUnsupported", err)
			}
			return
		}
		if rows > 0 && len(cols) == 0 {
			t.Fatalf("%d rows without columns decoded", rows)
		}
		for i, c := range cols {
			if _, ok := ParseVectorType(c.Type); !ok {
				t.Fatalf("column %d: unknown type %q decoded", i, c.Type)
			}
		}
		again, err := EncodeMetadata(rows, cols)
		if err != nil {
			// Decoded strings are valid UTF-8 and never longer than
			// their encoding, so they always encode again.
			t.Fatalf("EncodeMetadata of decoded metadata: %v", err)
		}
		rows2, cols2, err := DecodeMetadata(again)
		if err != nil || rows2 != rows || !cmp.Equal(cols, cols2, cmpopts.EquateEmpty()) {
			t.Fatalf("re-encoding is not stable: %v", err)
		}
	})
}
