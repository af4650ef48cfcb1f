package proxy

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// SessionKeySize is the size in bytes of [Options].SessionKey (AES-256).
const SessionKeySize = 32

// sealVersion is the first byte of a sealed session's plaintext.
const sealVersion = 1

// sealAD is the additional data of every sealed session id: a sealed id
// opens only as a session id of this proxy.
var sealAD = []byte("e6coord proxy session")

// sealer makes and opens sealed session ids: 128 random bits, the
// proxy's epoch and the credential, encrypted and authenticated with
// AES-256-GCM under the session key.
type sealer struct {
	aead  cipher.AEAD
	epoch [8]byte // random per Proxy value: tells its own ids from others'
}

func newSealer(key []byte) (*sealer, error) {
	if key == nil {
		key = make([]byte, SessionKeySize)
		rand.Read(key) // never returns an error (crypto/rand)
	}
	if len(key) != SessionKeySize {
		return nil, fmt.Errorf("proxy: the session key has %d bytes, want %d", len(key), SessionKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("proxy: session key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("proxy: session key: %w", err)
	}
	s := &sealer{aead: aead}
	rand.Read(s.epoch[:])
	return s, nil
}

// seal returns a new session id for key: base64url (no padding) of a
// random nonce and the sealed plaintext (version, epoch, 16 random bytes,
// then user, password and impersonated user, each length-prefixed).
func (s *sealer) seal(key credKey) string {
	plain := make([]byte, 0, 1+8+16+3*binary.MaxVarintLen64+len(key.user)+len(key.password)+len(key.impersonate))
	plain = append(plain, sealVersion)
	plain = append(plain, s.epoch[:]...)
	var r [16]byte
	rand.Read(r[:])
	plain = append(plain, r[:]...)
	for _, f := range []string{key.user, key.password, key.impersonate} {
		plain = binary.AppendUvarint(plain, uint64(len(f)))
		plain = append(plain, f...)
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	rand.Read(nonce)
	sealed := s.aead.Seal(nonce, nonce, plain, sealAD)
	clear(plain)
	return base64.RawURLEncoding.EncodeToString(sealed)
}

// errNotSealed: the id does not open with the key (made up, sealed with
// another key, or altered).
var errNotSealed = errors.New("proxy: not a session id of this key")

// open returns the credential sealed in id, and whether this sealer (this
// Proxy value) sealed it.
func (s *sealer) open(id string) (key credKey, own bool, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	n := s.aead.NonceSize()
	if err != nil || len(raw) < n+s.aead.Overhead() {
		return credKey{}, false, errNotSealed
	}
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], sealAD)
	if err != nil {
		return credKey{}, false, errNotSealed
	}
	defer clear(plain)
	if len(plain) < 1+8+16 || plain[0] != sealVersion {
		return credKey{}, false, errNotSealed
	}
	own = string(plain[1:9]) == string(s.epoch[:])
	rest := plain[1+8+16:]
	var f [3]string
	for i := range f {
		l, k := binary.Uvarint(rest)
		if k <= 0 || l > uint64(len(rest)-k) {
			return credKey{}, false, errNotSealed
		}
		f[i] = string(rest[k : k+int(l)])
		rest = rest[k+int(l):]
	}
	if len(rest) != 0 {
		return credKey{}, false, errNotSealed
	}
	return credKey{user: f[0], password: f[1], impersonate: f[2]}, own, nil
}

// ReadSessionKey reads a session key ([Options].SessionKey) from a file
// holding 64 hexadecimal digits (32 bytes; surrounding white space is
// ignored), such as `openssl rand -hex 32` writes. Its errors never show
// the file's content.
func ReadSessionKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	text := strings.TrimSpace(string(b))
	if len(text) != 2*SessionKeySize {
		return nil, fmt.Errorf("session key file %s: want %d hexadecimal digits, found %d characters", path, 2*SessionKeySize, len(text))
	}
	key, err := hex.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("session key file %s: not hexadecimal", path)
	}
	return key, nil
}
